"""Run files of `pledge serve`: which servers use a data folder, for `pledge reload`.

Each server writes `<data_dir>/run/serve-<port>.pid` (JSON: pid, port, url) while it runs and
`serve-<port>.reload.json` after each reload. Several servers may share a data folder (more
API processes on one PostgreSQL database); `pledge reload` reloads them all.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pledge.config import Settings, ensure_private_dir

RUN_DIR = "run"


@dataclass(frozen=True)
class ServerRecord:
    pid: int
    port: int
    url: str
    path: Path

    @property
    def status_file(self) -> Path:
        return self.path.with_name(f"serve-{self.port}.reload.json")


def run_dir(settings: Settings) -> Path:
    return settings.data_dir / RUN_DIR


def pid_file(settings: Settings, port: int) -> Path:
    return run_dir(settings) / f"serve-{port}.pid"


def status_file(settings: Settings, port: int) -> Path:
    return run_dir(settings) / f"serve-{port}.reload.json"


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` in one step, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def is_pledge_process(pid: int) -> bool:
    """True if `pid` runs and (where /proc tells) is a Pledge process, never another program."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        return b"pledge" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc here: trust the pid file


def _record(path: Path) -> ServerRecord | None:
    data = read_json(path)
    try:
        record = ServerRecord(int(data["pid"]), int(data["port"]), str(data["url"]), path)  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        return None
    return record if record.pid > 0 else None


def live_servers(settings: Settings) -> list[ServerRecord]:
    """Servers recorded in the data folder whose process still runs (stale files skipped)."""
    found = []
    for path in sorted(run_dir(settings).glob("serve-*.pid")):
        record = _record(path)
        if record is not None and is_pledge_process(record.pid):
            found.append(record)
    return found


def server_on(settings: Settings, port: int) -> ServerRecord | None:
    """The live server recorded for `port`, if any (not this process)."""
    record = _record(pid_file(settings, port))
    if record is None or record.pid == os.getpid() or not is_pledge_process(record.pid):
        return None
    return record


@contextlib.contextmanager
def claimed(settings: Settings, port: int, url: str) -> Iterator[Path]:
    """Record this process as the server on `port` while the block runs."""
    ensure_private_dir(run_dir(settings))
    path = pid_file(settings, port)
    write_json(path, {"pid": os.getpid(), "port": port, "url": url})
    try:
        yield path
    finally:
        record = _record(path)
        if record is not None and record.pid == os.getpid():
            path.unlink(missing_ok=True)
