"""Helpers of the consent tests: the API over a migrated store with the Lumen manifest."""

from __future__ import annotations

import base64
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pledge.api.settings import ApiSettings
from pledge.manifest.model import Manifest
from pledge.manifest_holder import ManifestHolder
from pledge.store.db import Store

LUMEN = Path(__file__).parents[2] / "examples" / "lumen"
RELAXED = ApiSettings(public_rate=10_000, public_burst=10_000)


@dataclass
class ConsentApi:
    app: FastAPI
    client: TestClient
    store: Store
    holder: ManifestHolder
    manifest_path: Path
    keys: dict[str, str]

    @property
    def manifest(self) -> Manifest:
        return self.holder.manifest

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def lumen_copy(target: Path) -> Path:
    shutil.copytree(LUMEN, target, ignore=shutil.ignore_patterns("*.db", "pledge-data"))
    return target / "pledge.yaml"


def _b64(text_: str) -> bytes:
    return base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4))


def verify_receipt(receipt: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Verify a compact JWS with `cryptography` only, as an outside verifier would."""
    head, body, sig = receipt.split(".")
    header = json.loads(_b64(head))
    assert header["alg"] == "EdDSA"
    (key,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519"
    Ed25519PublicKey.from_public_bytes(_b64(key["x"])).verify(_b64(sig), f"{head}.{body}".encode())
    payload: dict[str, Any] = json.loads(_b64(body))
    return payload
