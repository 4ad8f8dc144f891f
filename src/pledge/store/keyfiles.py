"""Master key files and the keyring that reads them (DESIGN §2 rule 4).

The master key never enters the database: it lives in `PLEDGE_MASTER_KEY_FILE` (default
`<data_dir>/master.key`, mode 0600) and only wraps other keys. A file that exists but does not
hold a valid key is refused and left untouched — overwriting it would make every wrapped key
unreadable. During a rotation the previous key stays next to it as `master.key.old`; the
keyring re-reads both files when it meets a key id it does not know, so running processes
follow a rotation without a restart. `create_file` and `replace_file` are the safe writes
every key file uses (master, audit and receipt keys).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pledge.config import ensure_private_dir
from pledge.errors import ConfigError
from pledge.store.errors import VaultError

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
PREFIX = "pledge-master-key:1:"


@dataclass(frozen=True)
class MasterKey:
    """A 256-bit key-encryption key and its public id (a fingerprint, safe to store)."""

    secret: bytes = field(repr=False)
    key_id: str = ""

    @classmethod
    def from_secret(cls, secret: bytes) -> MasterKey:
        if len(secret) != KEY_BYTES:
            raise ValueError("a master key has 32 bytes")
        digest = hashlib.sha256(b"pledge/master-key-id/v1\x00" + secret).hexdigest()
        return cls(secret=secret, key_id=digest[:16])

    @classmethod
    def generate(cls) -> MasterKey:
        return cls.from_secret(secrets.token_bytes(KEY_BYTES))

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        """Encrypt another key under this one (AES-256-GCM, random nonce, bound to `aad`)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(self.secret).encrypt(nonce, key, aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        try:
            return AESGCM(self.secret).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise VaultError(
                f"a key wrapped by master key {self.key_id} does not decrypt: it was altered "
                "or belongs to another record"
            ) from exc

    def encode(self) -> bytes:
        return (PREFIX + base64.b64encode(self.secret).decode() + "\n").encode()


def parse_key(data: bytes, path: Path) -> MasterKey:
    """Read a key file's content: Pledge's own format, or 64 hex digits, or base64 of 32 bytes.

    The two bare forms let operators bring a key from their secret manager
    (`openssl rand -hex 32`).
    """
    text = data.strip().decode("ascii", errors="replace")
    body = text.removeprefix(PREFIX)
    secret: bytes | None = None
    try:
        if len(body) == 2 * KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in body):
            secret = bytes.fromhex(body)
        else:
            secret = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        secret = None
    if secret is None or len(secret) != KEY_BYTES:
        raise ConfigError(
            f"{path}: not a Pledge master key (expected 32 bytes as '{PREFIX}<base64>', "
            f"64 hex digits or base64; found {len(data)} bytes that do not decode to a key). "
            "The file was left untouched: restore it from your key backup, or point "
            "PLEDGE_MASTER_KEY_FILE at the right file"
        )
    return MasterKey.from_secret(secret)


def read_key(path: Path) -> MasterKey:
    """Load a master key file; warn when others can read it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the master key file ({exc.strerror})") from exc
    warn_if_readable(path, "master key file")
    return parse_key(data, path)


def write_key(path: Path, key: MasterKey) -> MasterKey:
    """Create `path` holding `key`, mode 0600, never replacing an existing file.

    If the file appeared meanwhile (another process won the race), that file's key is used.
    """
    try:
        created = create_file(path, key.encode())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the master key file ({exc.strerror})") from exc
    return key if created else read_key(path)


def replace_key(path: Path, key: MasterKey) -> None:
    """Atomically replace `path` by a file holding `key` (used by rotation only)."""
    try:
        replace_file(path, key.encode())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot replace the master key file ({exc.strerror})") from exc


def create_file(path: Path, data: bytes) -> bool:
    """Create a secret file (mode 0600, synced); False, leaving it untouched, if it exists.

    Written to a temporary file, synced, then hard-linked into place: the link fails if the
    file appeared meanwhile, so a key file is never overwritten or seen half-written.
    """
    ensure_private_dir(path.parent)
    tmp = _tmp_beside(path)
    try:
        _write_synced(tmp, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        sync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def replace_file(path: Path, data: bytes) -> None:
    """Atomically replace (or create) a secret file: readers see the old or the new, whole."""
    ensure_private_dir(path.parent)
    tmp = _tmp_beside(path)
    try:
        _write_synced(tmp, data)
        os.replace(tmp, path)
        sync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _tmp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_dir(path: Path) -> None:
    """Make a rename or link in `path` durable (fsync of the folder)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def warn_if_readable(path: Path, what: str) -> None:
    """Log a warning when others than the owner may read a key file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "%s %s is readable by others (mode %o); chmod 600 it", what, path, stat.S_IMODE(mode)
        )


def old_path(path: Path) -> Path:
    """Where the previous master key waits while a rotation runs."""
    return path.with_name(path.name + ".old")


class Keyring:
    """The master keys this process can use, by key id: the current file and `.old`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keys: dict[str, MasterKey] = {}
        self._current: MasterKey | None = None
        self.reload()

    def reload(self) -> None:
        with self._lock:
            current = read_key(self.path)
            keys = {current.key_id: current}
            previous = old_path(self.path)
            if previous.exists():
                old = read_key(previous)
                keys.setdefault(old.key_id, old)
            self._keys, self._current = keys, current

    @property
    def current(self) -> MasterKey:
        assert self._current is not None
        return self._current

    def get(self, key_id: str) -> MasterKey:
        """The key with this id; re-reads the files once if it is unknown (a rotation)."""
        key = self._keys.get(key_id)
        if key is None:
            self.reload()
            key = self._keys.get(key_id)
        if key is None:
            raise VaultError(
                f"data is wrapped by master key {key_id}, but {self.path} holds key "
                f"{self.current.key_id} (and no {old_path(self.path).name} holds {key_id}); "
                "restore the matching key file"
            )
        return key
