"""Consent receipts: a compact JWS (RFC 7515, `alg` EdDSA / Ed25519, RFC 8037) per record.

Anyone can check a receipt with the public key published at `/.well-known/jwks.json`, so a
person holds proof of what they chose that does not depend on trusting our database. The key
is the installation's dedicated consent key (`<data_dir>/consent-signing.key`, mode 0600,
created on first use by the same safe key-file code as the audit key), kept apart from the
audit key so that either can be rotated or disclosed on its own.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pledge.errors import ConfigError
from pledge.store.signing import Signer, key_id_of

KEY_FILE = "consent-signing.key"
TYP = "consent-receipt+jwt"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class ReceiptSigner:
    """Signs receipts with the consent key; `jwks()` is the public half for verifiers."""

    private: Ed25519PrivateKey
    public_raw: bytes
    kid: str

    @classmethod
    def load_or_create(cls, data_dir: Path) -> ReceiptSigner:
        path = data_dir / KEY_FILE
        Signer.load_or_create(path)  # creates the file safely (0600, never overwrites)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path}: holds a key that is not Ed25519")
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return cls(key, raw, key_id_of(raw))

    def sign(self, payload: dict[str, Any]) -> str:
        header = {"alg": "EdDSA", "kid": self.kid, "typ": TYP}
        signing_input = f"{b64url(canonical(header))}.{b64url(canonical(payload))}"
        signature = self.private.sign(signing_input.encode())
        return f"{signing_input}.{b64url(signature)}"

    def jwks(self) -> dict[str, Any]:
        key = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(self.public_raw),
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        }
        return {"keys": [key]}


_signers: dict[Path, ReceiptSigner] = {}
_lock = threading.Lock()


def signer_for(data_dir: Path) -> ReceiptSigner:
    """The receipt signer of an installation (loaded once per process)."""
    with _lock:
        found = _signers.get(data_dir)
        if found is None:
            found = _signers[data_dir] = ReceiptSigner.load_or_create(data_dir)
        return found


def verify(token: str, jwks: dict[str, Any]) -> dict[str, Any] | None:
    """The payload of `token` if its signature verifies against a key in `jwks`, else None."""
    try:
        head_b64, body_b64, sig_b64 = token.split(".")
        header = json.loads(b64url_decode(head_b64))
        if header.get("alg") != "EdDSA":
            return None
        for key in jwks.get("keys", []):
            if key.get("kid") == header.get("kid") and key.get("crv") == "Ed25519":
                public = Ed25519PublicKey.from_public_bytes(b64url_decode(key["x"]))
                public.verify(b64url_decode(sig_b64), f"{head_b64}.{body_b64}".encode())
                payload = json.loads(b64url_decode(body_b64))
                return payload if isinstance(payload, dict) else None
    except (ValueError, KeyError, TypeError, InvalidSignature):
        return None
    return None
