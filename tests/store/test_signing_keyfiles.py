"""Key files: created private and never overwritten, replaced atomically, refused when broken."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pledge.errors import ConfigError
from pledge.store.keyfiles import create_file, replace_file
from pledge.store.rotation import rotation_lock
from pledge.store.signing import Signer, create_private_key, load_private_key


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_key_file_is_created_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "k"
    assert create_file(path, b"first") is True
    assert create_file(path, b"second") is False
    assert path.read_bytes() == b"first" and mode(path) == 0o600
    assert mode(path.parent) == 0o700
    replace_file(path, b"third")
    assert path.read_bytes() == b"third" and mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["k"]  # no temporary files left


def test_signer_keys_are_created_once_and_broken_ones_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "audit-signing.key"
    first = Signer.load_or_create(path)
    assert Signer.load_or_create(path).key_id == first.key_id and mode(path) == 0o600
    assert create_private_key(path, "audit signing key") is False
    path.write_bytes(b"garbage")
    with pytest.raises(ConfigError, match=r"not an Ed25519 private key in PEM.*left untouched"):
        Signer.load(path)
    with pytest.raises(ConfigError, match=r"restore it from backup \(receipts"):
        load_private_key(path, "consent signing key", "receipts stay verifiable")
    assert path.read_bytes() == b"garbage"
    assert load_private_key(tmp_path / "missing", "key") is None


def test_one_rotation_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "some.key"
    with (
        rotation_lock(path),
        pytest.raises(ConfigError, match="another key rotation"),
        rotation_lock(path),
    ):
        pass
    with rotation_lock(path), rotation_lock(tmp_path / "other.key"):
        pass  # different keys do not wait for each other
