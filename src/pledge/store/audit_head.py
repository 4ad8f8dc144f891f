"""The audit log's signed head, kept outside the database (`PLEDGE_AUDIT_HEAD_FILE`).

Checkpoints stored in the database prove nothing to someone who can also delete them: an
emptied log, a cut tail or a consistently rewritten chain then verifies. The head file is a
signed checkpoint (the same JSON as `pledge audit checkpoint` prints) in a place the database
cannot reach — by default `<data_dir>/audit-head.json`, or any path the operator mounts from
elsewhere. `verify` fails when the log does not contain it.

It only ever moves forward, and only over a log that still holds the head it replaces: a
rewound or rewritten log is never blessed by a newer head, so the evidence stays until an
operator moves the file aside on purpose (after restoring a backup, say). Writes are atomic
(temporary file, fsync, rename) and serialised between processes by a lock file beside it.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select

from pledge.errors import ConfigError
from pledge.store.db import Store
from pledge.store.keyfiles import replace_file
from pledge.store.signing import Checkpoint
from pledge.store.tables import AuditEvent

log = logging.getLogger(__name__)


def read_head(path: Path) -> Checkpoint | None:
    """The signed head in `path`, or None when there is none yet."""
    if not path.exists():
        return None
    return Checkpoint.read(path)


def publish(store: Store, cp: Checkpoint) -> bool:
    """Make `cp` the external head if it is newer and the log still holds the current one.

    Runs after the checkpoint's transaction committed; reads the two events it needs back,
    so a checkpoint whose transaction (or savepoint) rolled back is never published. Returns
    True when the file was written. Never raises for I/O: the events are committed already,
    and `verify` reports a head that fell behind.
    """
    path = store.settings.audit_head_path
    try:
        with _locked(path):
            current = read_head(path)
            if current is not None and current.seq >= cp.seq:
                return False
            stored = _hashes(store, [cp.seq] + ([current.seq] if current else []))
            if stored.get(cp.seq) != cp.hash:
                return False  # rolled back: that event is not (or not so) in the log
            if current is not None and stored.get(current.seq) != current.hash:
                log.error(
                    "audit log no longer holds its external head (seq %s in %s): it was cut "
                    "or rewritten; the head is left as it is (run `pledge audit verify`)",
                    current.seq,
                    path,
                )
                return False
            replace_file(path, (cp.to_json() + "\n").encode())
    except (OSError, ConfigError) as exc:
        log.warning("audit head %s not updated: %s", path, exc)
        return False
    return True


def _hashes(store: Store, seqs: list[int]) -> dict[int, str]:
    query = select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(seqs))
    with store.reader() as session:
        return {int(seq): str(hash_) for seq, hash_ in session.execute(query)}


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer of the head file at a time on this host (a lock file beside it)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
