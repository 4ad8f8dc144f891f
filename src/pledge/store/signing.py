"""Ed25519 signatures over audit checkpoints.

A checkpoint says "event `seq` had hash `hash` at `time`", signed by the installation's audit
key (`<data_dir>/audit-signing.key`, mode 0600, created on first use). Printed as JSON, it can
be anchored anywhere Pledge's operators cannot rewrite (a ticket, an e-mail to the auditor, a
transparency log); `pledge audit verify --checkpoint FILE` then proves the log still extends it.
The Ed25519 key-file helpers at the end serve every signing key (audit, consent receipts).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pledge.errors import ConfigError
from pledge.store.keyfiles import create_file, warn_if_readable

DOMAIN = b"pledge-audit-checkpoint/v1\n"
FORMAT = "pledge-audit-checkpoint/1"


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class Checkpoint:
    """A signed (seq, hash, time) of the audit chain; JSON-serialisable as it is."""

    seq: int
    hash: str
    time: str
    key_id: str
    public_key: str  # base64 of the raw 32-byte Ed25519 public key
    signature: str  # base64 of the 64-byte signature over `message()`

    def message(self) -> bytes:
        body = {"hash": self.hash, "key_id": self.key_id, "seq": self.seq, "time": self.time}
        return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def signature_valid(self) -> bool:
        """True if the signature verifies with the public key the checkpoint names."""
        try:
            raw = base64.b64decode(self.public_key, validate=True)
            if key_id_of(raw) != self.key_id:
                return False
            public = Ed25519PublicKey.from_public_bytes(raw)
            public.verify(base64.b64decode(self.signature, validate=True), self.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Any, where: str = "checkpoint") -> Checkpoint:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: a checkpoint is a JSON object")
        try:
            return cls(
                seq=int(data["seq"]),
                hash=str(data["hash"]),
                time=str(data["time"]),
                key_id=str(data["key_id"]),
                public_key=str(data["public_key"]),
                signature=str(data["signature"]),
            )
        except KeyError as exc:
            raise ConfigError(f"{where}: the checkpoint has no {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: 'seq' must be a whole number") from exc

    @classmethod
    def read(cls, path: Path) -> Checkpoint:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the checkpoint ({exc.strerror})") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
        return cls.from_dict(data, str(path))


class Signer:
    """The installation's Ed25519 audit key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_raw = public_raw_of(private)
        self.key_id = key_id_of(self.public_raw)
        self.public_key = base64.b64encode(self.public_raw).decode()

    @classmethod
    def load(cls, path: Path) -> Signer | None:
        """The key in `path`, or None if there is no such file."""
        key = load_private_key(
            path,
            "audit signing key",
            "checkpoints signed by it stay verifiable by anyone holding their JSON",
        )
        return None if key is None else cls(key)

    @classmethod
    def load_or_create(cls, path: Path) -> Signer:
        """Load the key, creating it (mode 0600, never over an existing file) on first use."""
        found = cls.load(path)
        if found is not None:
            return found
        create_private_key(path, "audit signing key")
        signer = cls.load(path)
        assert signer is not None
        return signer

    def sign(self, seq: int, hash_: str, time: str) -> Checkpoint:
        unsigned = Checkpoint(seq, hash_, time, self.key_id, self.public_key, "")
        signature = self._private.sign(unsigned.message())
        return Checkpoint(
            seq, hash_, time, self.key_id, self.public_key, base64.b64encode(signature).decode()
        )


def new_private_pem() -> bytes:
    """A fresh Ed25519 private key as unencrypted PKCS#8 PEM (kept in a 0600 file)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_raw_of(key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public half of `key`."""
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_private_key(path: Path, what: str, after_loss: str = "") -> Ed25519PrivateKey | None:
    """The Ed25519 key in PEM file `path`, or None if there is no such file.

    A file that exists but holds no such key is refused and left untouched: replacing it would
    silently change what every later signature proves. `after_loss` tells what a restore saves.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.strerror})") from exc
    warn_if_readable(path, what)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        hint = f" ({after_loss})" if after_loss else ""
        raise ConfigError(
            f"{path}: not an Ed25519 private key in PEM; the file was left untouched — "
            f"restore it from backup{hint}"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: holds a key that is not Ed25519")
    return key


def create_private_key(path: Path, what: str) -> bool:
    """Create a new key file at `path` (0600, synced); False if one already exists there."""
    try:
        return create_file(path, new_private_pem())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the {what} ({exc.strerror})") from exc
