"""Consent receipts: a compact JWS (RFC 7515, `alg` EdDSA / Ed25519, RFC 8037) per record.

Anyone can check a receipt with the public keys published at `/.well-known/jwks.json`, so a
person holds proof of what they chose that does not depend on trusting our database. The key
is the installation's dedicated consent key (`<data_dir>/consent-signing.key`, mode 0600,
created on first use by the same safe key-file code as the audit key), kept apart from the
audit key so that either can be rotated or disclosed on its own.

Rotation (`pledge keys rotate-receipts`) replaces that file with a new key. The public half of
every key that ever signed stays in `<data_dir>/consent-signing.jwks.json` with its validity
period, so every receipt ever issued still verifies; a retired private key no longer exists.
Every process looks at the key file before each signature, so it follows a rotation at once.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pledge.errors import ConfigError
from pledge.store import audit
from pledge.store.db import Store
from pledge.store.keyfiles import replace_file, sync_dir
from pledge.store.rotation import rotation_lock
from pledge.store.signing import (
    create_private_key,
    key_id_of,
    load_private_key,
    public_raw_of,
)

KEY_FILE = "consent-signing.key"
JWKS_FILE = "consent-signing.jwks.json"
TYP = "consent-receipt+jwt"
ROTATED = "consent.receipt_key_rotated"
#: Seconds around a key's validity period still accepted: clocks of several hosts, and a
#: signature begun just before a rotation.
LEEWAY = 300
_WHAT = "consent signing key"
_AFTER_LOSS = "receipts it signed stay verifiable through the published JWKS"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PublishedKey:
    """The public half of a receipt key and when it signed (None: open-ended)."""

    kid: str
    x: str  # base64url of the raw 32-byte Ed25519 public key
    valid_from: str | None = None
    valid_until: str | None = None

    @classmethod
    def of(cls, private: Ed25519PrivateKey, valid_from: str | None = None) -> PublishedKey:
        raw = public_raw_of(private)
        return cls(key_id_of(raw), b64url(raw), valid_from)

    def jwk(self) -> dict[str, Any]:
        """As a JWK (RFC 8037 OKP); the validity period in two extra members."""
        key: dict[str, Any] = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.x,
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        }
        if self.valid_from:
            key["valid_from"] = self.valid_from
        if self.valid_until:
            key["valid_until"] = self.valid_until
        return key

    @classmethod
    def from_jwk(cls, data: Any, where: str) -> PublishedKey:
        """Read one key back, refusing one whose `kid` is not its public key's fingerprint."""
        try:
            kid, x = str(data["kid"]), str(data["x"])
            fingerprint = key_id_of(b64url_decode(x))
            valid = [data.get(k) for k in ("valid_from", "valid_until")]
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: a key without a readable 'kid' and 'x'") from exc
        if data.get("crv") != "Ed25519" or fingerprint != kid:
            raise ConfigError(f"{where}: key {kid} is not the Ed25519 key its kid names")
        return cls(kid, x, *(str(v) if v else None for v in valid))


def read_published(path: Path) -> list[PublishedKey]:
    """The published keys, newest first ([] when there is no file yet)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the published receipt keys ({exc.strerror})"
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: not a JWKS; the file was left untouched — restore it from backup, since "
            "receipts signed by retired keys verify only through it"
        ) from exc
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        raise ConfigError(f"{path}: not a JWKS (no 'keys' list); restore it from backup")
    return [PublishedKey.from_jwk(item, str(path)) for item in keys]


def write_published(path: Path, keys: list[PublishedKey]) -> None:
    """Replace the published keys atomically (never half-written)."""
    body = json.dumps({"keys": [k.jwk() for k in keys]}, indent=2) + "\n"
    try:
        replace_file(path, body.encode())
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot write the published receipt keys ({exc.strerror})"
        ) from exc


def _stamp(path: Path) -> tuple[int, ...] | None:
    """What changes when a file is replaced (None: no file)."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return (found.st_dev, found.st_ino, found.st_mtime_ns, found.st_size)


@dataclass(frozen=True)
class _Loaded:
    private: Ed25519PrivateKey
    public: PublishedKey
    stamp: tuple[int, ...] | None


class ReceiptSigner:
    """Signs receipts with the current consent key; `jwks()` publishes every key's public half.

    Before each signature the key file is looked at (one `stat`), so after a rotation by
    another process the retired key is not used again.
    """

    def __init__(self, data_dir: Path) -> None:
        self.key_path = data_dir / KEY_FILE
        self.jwks_path = data_dir / JWKS_FILE
        self._lock = threading.Lock()
        self._current: _Loaded | None = None
        self._published: tuple[tuple[int, ...] | None, list[PublishedKey]] | None = None

    @classmethod
    def load_or_create(cls, data_dir: Path) -> ReceiptSigner:
        signer = cls(data_dir)
        signer.current()
        return signer

    def current(self) -> PublishedKey:
        """The key that signs now (created, and published, on first use)."""
        return self._key().public

    @property
    def kid(self) -> str:
        return self.current().kid

    def sign(self, payload: dict[str, Any]) -> str:
        key = self._key()
        header = {"alg": "EdDSA", "kid": key.public.kid, "typ": TYP}
        signing_input = f"{b64url(canonical(header))}.{b64url(canonical(payload))}"
        signature = key.private.sign(signing_input.encode())
        return f"{signing_input}.{b64url(signature)}"

    def published(self) -> list[PublishedKey]:
        """Every key a receipt may carry: the current one first, then the retired ones."""
        current = self.current()
        stamp = _stamp(self.jwks_path)
        cached = self._published
        if cached is None or cached[0] != stamp:
            cached = self._published = (stamp, read_published(self.jwks_path))
        keys = cached[1]
        if current.kid not in {k.kid for k in keys}:  # a key from before keys were published
            keys = [current, *keys]
        return sorted(keys, key=lambda k: k.kid != current.kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in self.published()]}

    def _key(self) -> _Loaded:
        stamp = _stamp(self.key_path)
        found = self._current
        if found is not None and found.stamp == stamp:
            return found
        with self._lock:
            found = self._current = self._load()
        return found

    def _load(self) -> _Loaded:
        stamp = _stamp(self.key_path)  # taken first: a file replaced meanwhile is re-read
        key = load_private_key(self.key_path, _WHAT, _AFTER_LOSS)
        if key is None:
            created = create_private_key(self.key_path, _WHAT)
            key = load_private_key(self.key_path, _WHAT, _AFTER_LOSS)
            assert key is not None
            if created:
                self._publish_first(PublishedKey.of(key, _timestamp(datetime.now(UTC))))
        return _Loaded(key, PublishedKey.of(key), stamp)

    def _publish_first(self, key: PublishedKey) -> None:
        with rotation_lock(self.key_path, wait=True):
            keys = read_published(self.jwks_path)
            if key.kid not in {k.kid for k in keys}:
                write_published(self.jwks_path, [key, *keys])


_signers: dict[Path, ReceiptSigner] = {}
_lock = threading.Lock()


def signer_for(data_dir: Path) -> ReceiptSigner:
    """The receipt signer of an installation (loaded once per process)."""
    with _lock:
        found = _signers.get(data_dir)
        if found is None:
            found = _signers[data_dir] = ReceiptSigner.load_or_create(data_dir)
        return found


# -- verifying --------------------------------------------------------------------------------


def verify(token: str, jwks: Mapping[str, Any], *, leeway: int = LEEWAY) -> dict[str, Any] | None:
    """The payload of `token` if a key in `jwks` signed it within its validity period, else None.

    The period (`valid_from`/`valid_until`, widened by `leeway` seconds) is checked against
    the receipt's `iat`: a retired key that leaked cannot vouch for a receipt issued later.
    """
    try:
        head_b64, body_b64, sig_b64 = token.split(".")
        header = json.loads(b64url_decode(head_b64))
        if not isinstance(header, dict) or header.get("alg") != "EdDSA":
            return None
        key = next(
            (
                k
                for k in jwks.get("keys", [])
                if k.get("kid") == header.get("kid") and k.get("crv") == "Ed25519"
            ),
            None,
        )
        if key is None:
            return None
        public = Ed25519PublicKey.from_public_bytes(b64url_decode(key["x"]))
        public.verify(b64url_decode(sig_b64), f"{head_b64}.{body_b64}".encode())
        payload = json.loads(b64url_decode(body_b64))
        if not isinstance(payload, dict) or not _issued_while_valid(key, payload, leeway):
            return None
        return payload
    except (ValueError, KeyError, TypeError, AttributeError, InvalidSignature):
        return None


def _issued_while_valid(key: Mapping[str, Any], payload: Mapping[str, Any], leeway: int) -> bool:
    start, end = key.get("valid_from"), key.get("valid_until")
    if not start and not end:
        return True
    issued = payload.get("iat")
    if not isinstance(issued, int) or isinstance(issued, bool):
        return False
    if start and issued < datetime.fromisoformat(start).timestamp() - leeway:
        return False
    return not (end and issued > datetime.fromisoformat(end).timestamp() + leeway)


# -- rotating ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRotation:
    retired: tuple[str, ...]  # kids of the keys retired now
    new_kid: str
    resumed: bool  # finished a rotation that had stopped half-way


def rotate(store: Store, *, actor: str) -> KeyRotation:
    """Make a new receipt key current, published before it signs; retire the old; audit it.

    Steps, each safe to repeat after a crash: the new key is written beside the current one
    (`consent-signing.key.next`) and published; it replaces the current key file (the old
    private key is gone from then on); the rotation is audited (with both public keys, so
    the audit chain holds them too); the old key's validity period is closed.
    """
    signer = ReceiptSigner(Path(store.settings.data_dir))
    signer.current()  # create the very first key before taking the lock
    with rotation_lock(signer.key_path):
        new, resumed = _switch(signer)
        now = _timestamp(datetime.now(UTC))
        keys = read_published(signer.jwks_path)
        retiring = [k for k in keys if k.kid != new.kid and k.valid_until is None]
        _audit_once(store, actor, new, retiring, resumed)
        closed = [replace(k, valid_until=now) if k in retiring else k for k in keys]
        write_published(signer.jwks_path, closed)
    return KeyRotation(tuple(k.kid for k in retiring), new.kid, resumed)


def _switch(signer: ReceiptSigner) -> tuple[PublishedKey, bool]:
    """Install a new current key, or return the one a stopped rotation already installed."""
    current = signer.current()
    keys = read_published(signer.jwks_path)
    pending = signer.key_path.with_name(KEY_FILE + ".next")
    if not pending.exists():
        if any(k.kid != current.kid and k.valid_until is None for k in keys):
            mine = next((k for k in keys if k.kid == current.kid), current)
            return mine, True  # switched already; the old key still needs retiring
        create_private_key(pending, "next " + _WHAT)
        resumed = False
    else:
        resumed = True
    private = load_private_key(pending, "next " + _WHAT)
    assert private is not None
    new = PublishedKey.of(private, _timestamp(datetime.now(UTC)))
    known = {k.kid for k in keys}
    if current.kid not in known:  # adopt a key from before keys were published
        keys.append(current)
    if new.kid not in known:
        keys.insert(0, new)
    write_published(signer.jwks_path, keys)  # published before it signs anything
    _install(pending, signer.key_path)
    return next(k for k in keys if k.kid == new.kid), resumed


def _install(pending: Path, target: Path) -> None:
    """Put the pending key in place: it signs from now on, and the old private key is gone."""
    try:
        os.replace(pending, target)
        sync_dir(target.parent)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot install the new key ({exc.strerror})") from exc


def _audit_once(
    store: Store, actor: str, new: PublishedKey, retiring: list[PublishedKey], resumed: bool
) -> None:
    """One `consent.receipt_key_rotated` event per new key, also when a rotation is resumed."""
    with store.transaction() as session:
        seen = audit.list_events(session, audit.EventFilter(action=ROTATED, object_id=new.kid))
        if seen.events:
            return
        details = {
            "new": {"kid": new.kid, "x": new.x},
            "retired": [{"kid": k.kid, "x": k.x} for k in retiring],
            "resumed": resumed,
        }
        audit.append(session, actor, ROTATED, "receipt_key", new.kid, details)
