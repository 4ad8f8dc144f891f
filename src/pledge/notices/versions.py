"""Notice version history: what was published, when it takes effect, and what changed (P-G16).

A notice is a promise with a date on it. Publishing records a version of the whole manifest
(its digest, effective date, publication time and the `pledge diff` against the previous
version) in `<manifest stem>.history.json` next to the manifest, and keeps a snapshot of the
published manifest and its dataset files in `<manifest stem>.history/v<N>/`, so the next
version can be compared with exactly what people were told. A material change must be
announced at least `notice_period` before it takes effect; publishing one earlier is refused
unless forced, and a forced publication says so in the record.

A later issue moves the history into the store; until then the file is the record, so it is
only ever replaced whole (temporary file, then rename) and never overwritten when unreadable.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

from pledge.errors import OutputError, PledgeError
from pledge.files import write_atomic
from pledge.manifest.diff import Change, diff, summary
from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.manifest.types import Duration

HISTORY_FORMAT = 1
_T = TypeVar("_T")
_HIDDEN_PARENT = "_"  # stands in for '..' when a dataset lives above the manifest's folder


class PublishRefused(PledgeError):
    """Publishing was refused: nothing changed, the date is too early, or the order is wrong."""

    status = 409


@dataclass(frozen=True)
class NoticeVersion:
    """One published version of the notices: the manifest as it was, and when it applies."""

    version: int
    digest: str
    effective: date
    published_at: datetime
    material: bool
    forced: bool
    changes: tuple[dict[str, Any], ...]

    @property
    def material_changes(self) -> tuple[dict[str, Any], ...]:
        return tuple(c for c in self.changes if c.get("material"))

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored in the history file."""
        return {
            "version": self.version,
            "digest": self.digest,
            "effective": self.effective.isoformat(),
            "published_at": self.published_at.isoformat(),
            "material": self.material,
            "forced": self.forced,
            "changes": list(self.changes),
            "summary": summary([_as_change(c) for c in self.changes]),
        }


def _as_change(data: Mapping[str, Any]) -> Change:
    """A recorded change back as a `Change`, tolerant of entries written by hand."""
    return Change(
        kind=str(data.get("kind", "changed")),
        path=str(data.get("path", "")),
        summary=str(data.get("summary", "")),
        material=bool(data.get("material")),
        reason=str(data.get("reason", "")),
        before=data.get("before"),
        after=data.get("after"),
    )


# --- paths ----------------------------------------------------------------------------------


def history_path(manifest_path: str | os.PathLike[str]) -> Path:
    """`<manifest stem>.history.json` next to the manifest."""
    path = Path(manifest_path)
    return path.with_name(f"{path.stem}.history.json")


def snapshot_root(manifest_path: str | os.PathLike[str]) -> Path:
    """`<manifest stem>.history/`: one folder per published version."""
    path = Path(manifest_path)
    return path.with_name(f"{path.stem}.history")


def snapshot_manifest(manifest_path: str | os.PathLike[str], version: int) -> Path:
    """Where the manifest of published `version` was copied (see `_snapshot_layout`)."""
    folder = snapshot_root(manifest_path) / f"v{version}"
    name = Path(manifest_path).name
    candidate = folder / name
    while not candidate.exists() and (candidate.parent / _HIDDEN_PARENT).is_dir():
        candidate = candidate.parent / _HIDDEN_PARENT / name
    return candidate


# --- reading --------------------------------------------------------------------------------


def load_history(manifest_path: str | os.PathLike[str]) -> list[NoticeVersion]:
    """Every published version, oldest first; empty when nothing was published yet."""
    file = history_path(manifest_path)
    try:
        raw = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise PledgeError(f"{file}: cannot read the notice history ({exc})") from exc
    try:
        return _parse_history(json.loads(raw))
    except (ValueError, TypeError, KeyError) as exc:
        raise PledgeError(
            f"{file}: the notice history is corrupt ({exc}); restore it from version control "
            "or a backup (Pledge will not publish over it)"
        ) from exc


def _parse_history(data: Any) -> list[NoticeVersion]:
    if not isinstance(data, dict) or not isinstance(data.get("versions"), list):
        raise ValueError("expected an object with a 'versions' list")
    if data.get("format") != HISTORY_FORMAT:
        raise ValueError(f"unknown format {data.get('format')!r}, expected {HISTORY_FORMAT}")
    versions = [_parse_version(item) for item in data["versions"]]
    for expected, found in enumerate(versions, start=1):
        if found.version != expected:
            raise ValueError(f"version {found.version} where version {expected} was expected")
    return versions


def _parse_version(item: Any) -> NoticeVersion:
    if not isinstance(item, dict):
        raise ValueError("a version entry is not an object")
    changes = item["changes"]
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise ValueError(f"version {item.get('version')}: 'changes' must be a list of objects")
    published_at = datetime.fromisoformat(_typed(item, "published_at", str))
    return NoticeVersion(
        version=_typed(item, "version", int),
        digest=_typed(item, "digest", str),
        effective=date.fromisoformat(_typed(item, "effective", str)),
        published_at=published_at,
        material=_typed(item, "material", bool),
        forced=_typed(item, "forced", bool),
        changes=tuple(changes),
    )


def _typed(item: Mapping[str, Any], key: str, kind: type[_T]) -> _T:
    value = item[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"'{key}' must be {kind.__name__}, found {value!r}")
    return value


# --- publishing -----------------------------------------------------------------------------


def publish(
    manifest_path: str | os.PathLike[str],
    effective: date | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> NoticeVersion:
    """Record a new version of the notices; refuse what would break the promise of P-G16.

    The manifest must pass `pledge check`. The default effective date is today; a material
    change needs `effective` at least `notice_period` after today, else `PublishRefused` names
    the changes and the earliest allowed date (`force=True` publishes anyway and records it).
    """
    now = now or datetime.now().astimezone()
    manifest = load_manifest(manifest_path)
    history = load_history(manifest_path)
    previous = history[-1] if history else None
    effective = effective or now.date()
    if previous is not None:
        _check_order(manifest, previous, effective)
    changes = _changes_since(manifest_path, manifest, previous, force)
    material = any(c.get("material") for c in changes)
    forced = False
    if material:
        forced = _check_notice_period(manifest.notice_period, changes, effective, now, force)
    version = NoticeVersion(
        version=len(history) + 1,
        digest=manifest.digest,
        effective=effective,
        published_at=now,
        material=material,
        forced=forced,
        changes=tuple(changes),
    )
    _write_snapshot(manifest_path, manifest, version.version)
    _write_history(manifest_path, [*history, version])
    return version


def _check_order(manifest: Manifest, previous: NoticeVersion, effective: date) -> None:
    if manifest.digest == previous.digest:
        raise PublishRefused(
            f"{manifest.source}: nothing to publish: the manifest is unchanged since version "
            f"{previous.version} (digest {previous.digest[:12]}, effective "
            f"{previous.effective.isoformat()})"
        )
    if effective < previous.effective:
        raise PublishRefused(
            f"effective date {effective.isoformat()} is before version {previous.version}'s "
            f"({previous.effective.isoformat()}): versions take effect in the order they are "
            "published"
        )


def _changes_since(
    manifest_path: str | os.PathLike[str],
    current: Manifest,
    previous: NoticeVersion | None,
    force: bool,
) -> list[dict[str, Any]]:
    """The diff against the snapshot of the previous version (none for the first version)."""
    if previous is None:
        return []
    snapshot = snapshot_manifest(manifest_path, previous.version)
    try:
        old = load_manifest(snapshot, lint=False)
    except PledgeError as exc:
        if not force:
            raise PledgeError(
                f"{snapshot}: the snapshot of version {previous.version} cannot be loaded, so "
                "the changes cannot be classified; restore it, or publish with --force to "
                "treat every change as material"
            ) from exc
        return [_unknown_change(snapshot)]
    return [c.as_dict() for c in diff(old, current)]


def _unknown_change(snapshot: Path) -> dict[str, Any]:
    return {
        "kind": "changed",
        "path": "",
        "summary": f"changes unknown: the previous snapshot ({snapshot}) could not be loaded",
        "material": True,
        "reason": "unclassified changes count as material",
        "before": None,
        "after": None,
    }


def _check_notice_period(
    period: Duration,
    changes: Sequence[Mapping[str, Any]],
    effective: date,
    now: datetime,
    force: bool,
) -> bool:
    """Whether `force` was needed; raises when it was needed but not given."""
    earliest = period.add_to(datetime.combine(now.date(), time())).date()
    if effective >= earliest:
        return False
    if force:
        return True
    material = [str(c.get("summary") or c.get("path")) for c in changes if c.get("material")]
    listed = "; ".join(material)
    raise PublishRefused(
        f"{len(material)} material change{'s' * (len(material) != 1)} ({listed}) must be "
        f"announced at least {period.iso} (notice_period) before taking effect (P-G16): "
        f"effective {effective.isoformat()} is too early; the earliest allowed date is "
        f"{earliest.isoformat()} (use --effective {earliest.isoformat()}, or --force to "
        "publish anyway and record that the notice period was overridden)"
    )


# --- writing --------------------------------------------------------------------------------


def _write_history(manifest_path: str | os.PathLike[str], versions: list[NoticeVersion]) -> None:
    data = {
        "format": HISTORY_FORMAT,
        "manifest": Path(manifest_path).name,
        "versions": [v.as_dict() for v in versions],
    }
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_atomic(history_path(manifest_path), text)


def _write_snapshot(manifest_path: str | os.PathLike[str], manifest: Manifest, n: int) -> None:
    """Copy the manifest and its dataset files into `v<n>/`, keeping their relative places.

    The copy is built in a temporary folder and renamed into place, so a version folder is
    either complete or absent. Loading the copy gives the same digest as the original.
    """
    root = snapshot_root(manifest_path)
    source = Path(manifest_path)
    files = _snapshot_layout(source, manifest)
    try:
        root.mkdir(exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=root, prefix=f".v{n}."))
    except OSError as exc:
        raise OutputError(f"{root}: cannot write the snapshot ({exc.strerror or exc})") from exc
    try:
        for src, rel in files:
            dest = building / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        final = root / f"v{n}"
        if final.exists():  # left over from a publication whose history write failed
            shutil.rmtree(final)
        os.replace(building, final)
    except OSError as exc:
        shutil.rmtree(building, ignore_errors=True)
        raise OutputError(f"{root}: cannot write the snapshot ({exc.strerror or exc})") from exc


def _snapshot_layout(source: Path, manifest: Manifest) -> list[tuple[Path, Path]]:
    """(file, place in the snapshot) for the manifest and every dataset file it names.

    Dataset paths are relative to the manifest and may climb out of its folder ('../x.yml');
    the manifest is then nested under as many `_` folders as the deepest climb, so every
    relative path still resolves inside the snapshot.
    """
    refs = sorted({ref for system in manifest.systems.values() for ref in system.datasets})
    depth = 0
    for ref in refs:
        if os.path.isabs(ref):
            raise PledgeError(
                f"{source}: dataset '{ref}' has an absolute path; name datasets relative to "
                "the manifest so a published version can be kept with it"
            )
        parts = Path(os.path.normpath(ref)).parts
        depth = max(depth, next((i for i, p in enumerate(parts) if p != ".."), len(parts)))
    base = Path(*([_HIDDEN_PARENT] * depth)) if depth else Path()
    layout = [(source, base / source.name)]
    for ref in refs:
        rel = Path(os.path.normpath(base / ref))
        layout.append((Path(os.path.normpath(source.parent / ref)), rel))
    return layout
