"""Master key rotation without downtime (`pledge keys rotate-master`).

1. The new key is installed as the master key file; the previous one is kept beside it as
   `master.key.old`. Every process's keyring re-reads both files when it meets a key id it
   does not know, so readers keep working throughout.
2. The switch: the index secret in `vault_keys` is re-wrapped with the new key. From that
   commit on, new subjects are wrapped with the new key (see `Vault._wrapping_key`).
3. Data keys are re-wrapped in batches, one transaction per batch, each update conditional on
   the old key id so that a concurrent shred is never undone.
4. When no key wrapped by the old master remains, an audit event records the rotation and
   `master.key.old` is removed (or kept, renamed, with `keep_old`).

A rotation that stops half-way (crash, Ctrl-C) resumes where it was on the next run: the
presence of `master.key.old` says a rotation is in progress.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from pledge.config import ensure_private_dir
from pledge.errors import ConfigError
from pledge.store import audit
from pledge.store.db import Store
from pledge.store.keyfiles import Keyring, MasterKey, old_path, read_key, replace_key
from pledge.store.tables import Subject, table
from pledge.store.vault import rewrap_secret, rewrap_subject_key


@dataclass(frozen=True)
class RotationReport:
    old_key_id: str
    new_key_id: str
    rewrapped: int
    resumed: bool
    old_key_file: Path | None  # where the old key was kept, or None when it was removed


def rotate_master(
    store: Store,
    new_key_file: Path | None = None,
    *,
    actor: str = "system",
    batch_size: int = 500,
    keep_old: bool = False,
) -> RotationReport:
    """Re-wrap every data key under a new master key (generated, or read from a file)."""
    vault = store.vault
    path = store.settings.master_key_path
    with rotation_lock(path):
        old, new, resumed = _install_new_key(path, new_key_file)
        vault.keyring.reload()
        with store.transaction() as session:
            rewrap_secret(session, new, vault.keyring)
        total = 0
        while True:
            with store.transaction() as session:
                done = _rewrap_batch(session, vault.keyring, new, batch_size)
                if not done:  # nothing left: record the rotation with the last batch
                    details = {"old_key_id": old.key_id, "new_key_id": new.key_id}
                    audit.append(
                        session,
                        actor,
                        "vault.master_rotated",
                        "vault",
                        new.key_id,
                        {**details, "rewrapped": total, "resumed": resumed},
                    )
            if not done:
                break
            total += done
        kept = _retire(path, old, keep_old)
    return RotationReport(old.key_id, new.key_id, total, resumed, kept)


def _install_new_key(path: Path, new_key_file: Path | None) -> tuple[MasterKey, MasterKey, bool]:
    """Put the new key in place (or find the one a stopped rotation installed)."""
    previous = old_path(path)
    if previous.exists():
        old, current = read_key(previous), read_key(path)
        if old.key_id != current.key_id:
            if new_key_file is not None and read_key(new_key_file).key_id != current.key_id:
                raise ConfigError(
                    f"{previous} exists: a rotation to key {current.key_id} is still in "
                    "progress; run `pledge keys rotate-master` without --new-key-file to "
                    "finish it first"
                )
            return old, current, True
        previous.unlink()  # a rotation stopped before installing its new key
    old = read_key(path)
    new = read_key(new_key_file) if new_key_file is not None else MasterKey.generate()
    if new.key_id == old.key_id:
        raise ConfigError(f"{new_key_file}: holds the current master key; give a new one")
    os.link(path, previous)
    replace_key(path, new)
    return old, new, False


def _rewrap_batch(session: Session, keyring: Keyring, new: MasterKey, size: int) -> int:
    rows = session.execute(
        select(Subject.id, Subject.key_id, Subject.wrapped_key)
        .where(Subject.key_id != new.key_id, Subject.wrapped_key.is_not(None))
        .order_by(Subject.id)
        .limit(size)
    ).all()
    if not rows:
        return 0
    params = [
        {
            "b_id": sid,
            "b_old": kid,
            "b_key": new.key_id,
            "b_wrapped": rewrap_subject_key(keyring.get(kid), new, sid, wrapped),
        }
        for sid, kid, wrapped in rows
        if kid is not None and wrapped is not None
    ]
    subjects = table(Subject)
    statement = (
        update(subjects)
        .where(subjects.c.id == bindparam("b_id"), subjects.c.key_id == bindparam("b_old"))
        .values(key_id=bindparam("b_key"), wrapped_key=bindparam("b_wrapped"))
    )
    session.connection().execute(statement, params)
    return len(rows)


def _retire(path: Path, old: MasterKey, keep: bool) -> Path | None:
    previous = old_path(path)
    if keep:
        kept = path.with_name(f"{path.name}.{old.key_id}.retired")
        os.replace(previous, kept)
        return kept
    previous.unlink(missing_ok=True)
    return None


@contextmanager
def rotation_lock(path: Path, *, wait: bool = False) -> Iterator[None]:
    """One rotation of the key in `path` at a time on this host (a lock file beside it).

    Without `wait`, a second rotation is refused at once instead of queueing behind the first.
    """
    lock = path.with_name(path.name + ".lock")
    ensure_private_dir(lock.parent)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ConfigError(f"{lock}: another key rotation is running") from exc
        yield
    finally:
        os.close(fd)
