"""Load `pledge.yaml` and its Fides datasets into a validated, immutable `Manifest`.

Loading never raises for bad input: it returns findings with `file:line:col`, what is wrong,
what is expected and, for typos, the nearest valid key. `load_manifest` is the strict variant
for code that needs a usable manifest.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pledge.errors import ConfigError, ManifestError
from pledge.manifest.datasets import Dataset, DatasetFile
from pledge.manifest.findings import Finding, Location, has_errors
from pledge.manifest.model import Manifest
from pledge.manifest.source import REFUSED, Limits, Path, SourceMap, YamlProblem, parse_yaml
from pledge.manifest.taxonomy import builtin_taxonomy

DEFAULT_MANIFEST = "pledge.yaml"
M = TypeVar("M", bound=BaseModel)

# Findings the loader itself produces (lint rules add theirs), for the reference docs.
LOAD_RULES: dict[str, tuple[str, str]] = {
    "file-not-readable": ("error", "the manifest or a dataset file is missing or not UTF-8"),
    REFUSED: (
        "error",
        "a file over a limit: not a regular file, too large, aliases expanding too far, "
        "nested too deep or a number too long",
    ),
    "yaml-syntax": ("error", "the file is not valid YAML"),
    "duplicate-key": ("error", "a key appears twice in one mapping"),
    "unknown-key": ("error", "a key the format does not have (the nearest valid one suggested)"),
    "missing-key": ("error", "a required key is missing"),
    "invalid-value": ("error", "a value of the wrong type or form"),
    "dataset-format": ("error", "a dataset file that is not in Fides format"),
}


@dataclass
class LoadedDataset:
    """One dataset file as the manifest names it, with where each node came from."""

    ref: str
    file: str
    content: DatasetFile | None
    source: SourceMap
    raw: bytes = b""
    """The file as read (for the manifest's digest); empty when it could not be used."""


@dataclass
class LoadResult:
    """What loading produced: the manifest (None if unusable) and every finding on the way."""

    file: str
    manifest: Manifest | None = None
    findings: list[Finding] = field(default_factory=list)
    source: SourceMap | None = None
    datasets: dict[str, LoadedDataset] = field(default_factory=dict)
    unreadable: bool = False

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not has_errors(self.findings)


def default_path() -> str:
    return os.environ.get("PLEDGE_MANIFEST") or DEFAULT_MANIFEST


def default_limits() -> Limits:
    """The loader's limits, with `PLEDGE_MANIFEST_MAX_BYTES` applied (the documented default)."""
    try:
        return Limits.from_environ(os.environ)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def load(path: str | os.PathLike[str] | None = None, limits: Limits | None = None) -> LoadResult:
    """Read, parse and validate a manifest and its datasets; never raises for bad input.

    `limits` (default: `default_limits()`) bounds what is read, so a hostile file is refused
    with its location instead of exhausting memory or time.
    """
    file = os.fspath(path) if path is not None else default_path()
    limits = limits or default_limits()
    result = LoadResult(file)
    raw = _read(file, result, limits)
    if raw is None:
        return result
    try:
        data, source, findings = parse_yaml(raw[0], file, limits)
    except YamlProblem as problem:
        result.findings.append(problem.finding)
        result.unreadable = True
        return result
    result.source = source
    result.findings.extend(findings)
    if not isinstance(data, dict):
        result.findings.append(
            Finding(
                Location(file, 1, 1),
                "error",
                "invalid-value",
                "the manifest must be a mapping with keys such as pledge, organization, systems",
            )
        )
        return result
    manifest = _validate(Manifest, data, source, result.findings)
    datasets = _load_datasets(data, source, FsPath(file).parent, result, limits)
    if manifest is None:
        return result
    digest = hashlib.sha256(raw[1])
    by_system: dict[str, tuple[Dataset, ...]] = {}
    for key, system in manifest.systems.items():
        found: list[Dataset] = []
        for ref in system.datasets:
            loaded = datasets.get(ref)
            if loaded is not None and loaded.content is not None:
                found.extend(loaded.content.dataset)
        by_system[key] = tuple(found)
    for ref in sorted(datasets):
        digest.update(ref.encode())
        digest.update(datasets[ref].raw if datasets[ref].content else b"")
    manifest.bind(builtin_taxonomy(), by_system, file, digest.hexdigest())
    result.manifest = manifest
    return result


def check(path: str | os.PathLike[str] | None = None, limits: Limits | None = None) -> LoadResult:
    """Load and lint: every finding `pledge check` reports."""
    from pledge.manifest.lint import lint

    result = load(path, limits)
    if result.manifest is not None:
        result.findings.extend(lint(result))
    result.findings.sort(key=lambda f: (f.location.file, f.location.line, f.location.col))
    return result


def load_manifest(path: str | os.PathLike[str] | None = None, *, lint: bool = True) -> Manifest:
    """A manifest that passes `pledge check` (errors only), or `ManifestError` with findings."""
    result = check(path) if lint else load(path)
    if result.manifest is None or has_errors(result.findings):
        raise ManifestError(f"{result.file}: the manifest has errors", result.findings)
    return result.manifest


# --- reading ------------------------------------------------------------------------------


def _read(
    file: str, result: LoadResult, limits: Limits, at: Location | None = None
) -> tuple[str, bytes] | None:
    """The file as text and bytes, or None with a finding (a refused file makes it unusable)."""
    rule = "file-not-readable"
    try:
        data = read_limited(file, limits.max_bytes)
    except FileNotFoundError:
        problem = f"file not found: {file}"
    except IsADirectoryError:
        problem = f"{file} is a directory, expected a YAML file"
    except _Refused as exc:
        problem, rule = str(exc), REFUSED
    except OSError as exc:
        problem = f"cannot read {file}: {exc.strerror}"
    else:
        try:
            return data.decode("utf-8"), data
        except UnicodeDecodeError as exc:
            problem = f"{file} is not UTF-8 text (byte {exc.start})"
    result.findings.append(Finding(at or Location(file), "error", rule, problem))
    if at is None or rule == REFUSED:
        result.unreadable = True
    return None


class _Refused(OSError):
    """A file the loader will not read: not a regular file, or over the size limit."""


def read_limited(file: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`.

    Opens without blocking (a FIFO would wait for a writer for ever) and checks the open file
    itself, so a device such as /dev/zero or a pipe is refused before a byte is read.
    """
    fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(file)
        if not stat.S_ISREG(info.st_mode):
            raise _Refused(f"{file} is not a regular file (a pipe, socket or device)")
        if info.st_size > max_bytes:
            raise _Refused(_too_large(file, max_bytes))
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while we read it
        raise _Refused(_too_large(file, max_bytes))
    return data


def _too_large(file: str, max_bytes: int) -> str:
    return (
        f"{file} is larger than the limit of {max_bytes:,} bytes "
        "(PLEDGE_MANIFEST_MAX_BYTES sets another)"
    )


def _load_datasets(
    data: dict[str, Any], source: SourceMap, base: FsPath, result: LoadResult, limits: Limits
) -> dict[str, LoadedDataset]:
    """Load every dataset file named by a system, once each, relative to the manifest."""
    systems = data.get("systems")
    if not isinstance(systems, dict):
        return result.datasets
    for key, system in systems.items():
        refs = system.get("datasets") if isinstance(system, dict) else None
        if not isinstance(refs, list):
            continue
        for i, ref in enumerate(refs):
            if not isinstance(ref, str) or ref in result.datasets:
                continue
            at = source.locate(("systems", key, "datasets", i))
            file = os.path.normpath(os.path.join(base, ref))
            result.datasets[ref] = _load_dataset(ref, file, at, result, limits)
    return result.datasets


def _load_dataset(
    ref: str, file: str, at: Location, result: LoadResult, limits: Limits
) -> LoadedDataset:
    empty = LoadedDataset(ref, file, None, SourceMap(file))
    raw = _read(file, result, limits, at)
    if raw is None:
        return empty
    try:
        data, source, findings = parse_yaml(raw[0], file, limits)
    except YamlProblem as problem:
        result.findings.append(problem.finding)
        result.unreadable = result.unreadable or problem.finding.rule == REFUSED
        return empty
    result.findings.extend(findings)
    if not isinstance(data, dict) or "dataset" not in data:
        result.findings.append(
            Finding(
                Location(file, 1, 1),
                "error",
                "dataset-format",
                "not a Fides dataset file: expected a top-level 'dataset:' list of datasets",
            )
        )
        return LoadedDataset(ref, file, None, source)
    content = _validate(DatasetFile, data, source, result.findings)
    return LoadedDataset(ref, file, content, source, raw[1] if content is not None else b"")


# --- validation errors as findings ----------------------------------------------------------


def _validate(
    model: type[M], data: dict[str, Any], source: SourceMap, findings: list[Finding]
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        seen: dict[Path, Finding] = {}
        errors = exc.errors()
        paths = [_data_path(data, e["loc"]) for e in errors]
        for error, path in zip(errors, paths, strict=True):
            if error["type"] == "too_short" and any(
                len(p) > len(path) and p[: len(path)] == path for p in paths
            ):
                continue  # a consequence of a failing item below, which is reported itself
            if error["type"] == "default_factory_not_called":
                continue  # a default computed from a field that failed and is reported itself
            finding = _finding(model, data, source, error)
            key = (*finding.path, finding.rule)
            if key in seen:
                continue
            seen[key] = finding
            findings.append(finding)
        return None


def _finding(model: type[BaseModel], data: Any, source: SourceMap, error: Any) -> Finding:
    path = _data_path(data, error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        name = str(path[-1])
        allowed = _allowed_keys(model, path[:-1])
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else None
        expected = ", ".join(sorted(allowed)[:12]) + (" …" if len(allowed) > 12 else "")
        return Finding(
            source.locate(path, key=True),
            "error",
            "unknown-key",
            f"unknown key '{name}' in {_where(path[:-1])}; expected one of: {expected}",
            hint,
            path,
        )
    if kind == "missing":
        return Finding(
            source.locate(path[:-1]),
            "error",
            "missing-key",
            f"missing required key '{path[-1]}' in {_where(path[:-1])}",
            None,
            path,
        )
    message = _message(error)
    hint = None
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        options = [o.strip().strip("'") for o in expected.replace(" or ", ",").split(",")]
        close = difflib.get_close_matches(str(error.get("input")), options, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else None
        message = f"'{error.get('input')}' is not allowed; expected {expected}"
    return Finding(
        source.locate(path),
        "error",
        "invalid-value",
        f"{_where(path)}: {message}",
        hint,
        path,
    )


def _data_path(data: Any, loc: Iterable[Any]) -> Path:
    """The part of a pydantic error location that exists in the data (drops union tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            path.append(part)
            node = node[part]
        elif part == "[key]":
            continue
        elif isinstance(node, dict) and isinstance(part, str) and not part.endswith("]"):
            path.append(part)  # a missing or unknown key
            node = None
    return tuple(path)


def _allowed_keys(model: type[BaseModel], path: Path) -> list[str]:
    """Keys the model accepts at `path`, for suggestions."""
    target: Any = model
    for part in path:
        target = _inner(target, part)
        if target is None:
            return []
    if typing.get_origin(target) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(target) if _is_container(a)]
        target = models[0] if models else target
    if isinstance(target, type) and issubclass(target, BaseModel):
        return list(target.model_fields)
    return []


def _inner(annotation: Any, part: str | int) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        info = annotation.model_fields.get(str(part))
        return info.annotation if info is not None else None
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        models = [a for a in args if _is_container(a)]
        return _inner(models[0], part) if models else None
    if origin is dict:
        return args[1]
    if origin in (tuple, list):
        return args[0]
    return None


def _is_container(annotation: Any) -> bool:
    return (
        isinstance(annotation, type) and issubclass(annotation, BaseModel)
    ) or typing.get_origin(annotation) in (dict, tuple, list)


def _where(path: Path) -> str:
    if not path:
        return "the top level"
    return (
        "'"
        + ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
        + "'"
    )


def _message(error: Any) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message
