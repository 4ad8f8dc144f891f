"""The static notice site and atomic output: nothing is ever left half-written.

`pledge notice --all` writes every notice in every declared language, an index per language and
for the site, and the version history, as plain HTML files that any web server can publish.
The site is built in a temporary folder beside the target and moved into place in one rename,
so readers and deploy jobs never see a mix of old and new pages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pledge.errors import OutputError
from pledge.manifest.model import Manifest
from pledge.notices.render import render_history, render_index, render_view
from pledge.notices.view import PublishedVersion, build_view

MARKER = ".pledge-site"
"""A file in every built site: only a folder holding it may be replaced by a new build."""


def load_history_for(manifest_path: str | os.PathLike[str]) -> list[PublishedVersion]:
    """The published notice versions, oldest first; none when versioning is not available."""
    try:
        from pledge.notices.versions import load_history
    except ImportError:
        return []
    return list(load_history(manifest_path))


def site_pages(manifest: Manifest, history: Sequence[PublishedVersion] = ()) -> dict[str, str]:
    """Every page of the site by relative path; each notice's view is built once."""
    views = [build_view(manifest, key, history) for key in manifest.notices]
    pages = {"index.html": render_index(manifest)}
    for lang in manifest.languages:
        pages[f"{lang}/index.html"] = render_index(manifest, lang)
        pages[f"{lang}/history.html"] = render_history(manifest, lang, history)
        for view in views:
            pages[f"{lang}/{view.id}.html"] = render_view(view, lang, "html")
    return pages


def build_site(
    manifest: Manifest, output: str | os.PathLike[str], history: Sequence[PublishedVersion] = ()
) -> Path:
    """Render the site and put it at `output` in one step; returns the site folder.

    An existing `output` is replaced only when it is empty or an earlier Pledge site, so a
    mistyped path cannot wipe an unrelated folder.
    """
    target = Path(output).absolute()
    _check_replaceable(target)
    pages = site_pages(manifest, history)
    staging = _staging_dir(target)
    try:
        for relative, text in pages.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        (staging / MARKER).write_text("Built by `pledge notice --all`.\n", encoding="utf-8")
        _publish_dir(staging, target)
    except OSError as exc:
        raise OutputError(f"cannot write the site to {target}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _check_replaceable(target: Path) -> None:
    if not target.exists():
        if not target.parent.is_dir():
            raise OutputError(f"cannot write the site to {target}: {target.parent} does not exist")
        return
    if not target.is_dir():
        raise OutputError(f"cannot write the site to {target}: it exists and is not a folder")
    if any(target.iterdir()) and not (target / MARKER).is_file():
        raise OutputError(
            f"refusing to replace {target}: it is not empty and not a site Pledge built "
            f"(no {MARKER} file); choose a new or empty folder"
        )


def _staging_dir(target: Path) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"cannot write the site to {target}: {exc.strerror or exc}") from exc


def _publish_dir(staging: Path, target: Path) -> None:
    """Swap the staged site in: the old one moves aside, the new one takes its name."""
    os.chmod(staging, 0o777 & ~_umask())
    if not target.exists():
        os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    os.replace(target, old / "site")
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(old / "site", target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
