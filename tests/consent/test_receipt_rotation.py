"""Receipt-key rotation: every receipt ever issued still verifies; retired keys sign nothing."""

from __future__ import annotations

import base64
import json
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from consentsupport import ConsentApi, _b64, verify_receipt
from cryptography.exceptions import InvalidSignature
from typer.testing import CliRunner

from pledge.cli import build
from pledge.consent import receipts
from pledge.consent.receipts import ReceiptSigner
from pledge.errors import ConfigError
from pledge.store import audit
from pledge.store.db import Store


def record(capi: ConsentApi) -> str:
    made = capi.client.post("/v1/consent", json={"mechanism": "accept_all", "language": "en"})
    assert made.status_code == 201, made.text
    receipt: str = made.json()["receipt"]
    return receipt


def kid_of(receipt: str) -> str:
    kid: str = json.loads(_b64(receipt.split(".")[0]))["kid"]
    return kid


def jwks(capi: ConsentApi) -> dict[str, Any]:
    answer = capi.client.get("/.well-known/jwks.json")
    assert answer.status_code == 200
    keys: dict[str, Any] = answer.json()
    return keys


def rotation_events(store: Store) -> list[audit.Event]:
    with store.reader() as session:
        found = audit.list_events(session, audit.EventFilter(action=receipts.ROTATED))
    return found.events


def data_dir(capi: ConsentApi) -> Path:
    return Path(capi.store.settings.data_dir)


def test_receipts_from_before_and_after_a_rotation_both_verify(capi: ConsentApi) -> None:
    before = record(capi)
    done = receipts.rotate(capi.store, actor="cli:test")
    after = record(capi)  # the API process's cached signer follows the rotation at once
    assert kid_of(before) in done.retired and kid_of(after) == done.new_kid != kid_of(before)
    keys = jwks(capi)
    assert [k["kid"] for k in keys["keys"]] == [done.new_kid, kid_of(before)]
    current, retired = keys["keys"]
    assert "valid_until" not in current and current["valid_from"] <= retired["valid_until"]
    for receipt in (before, after):  # an outside verifier (cryptography only) and our own
        assert verify_receipt(receipt, keys)["iss"]
        assert receipts.verify(receipt, keys) is not None
    exported = capi.client.get("/v1/consent/export", headers=capi.auth("auditor")).text
    assert all(receipts.verify(json.loads(line)["receipt"], keys) for line in exported.splitlines())
    (event,) = rotation_events(capi.store)
    assert event.object_id == done.new_kid
    assert event.details["retired"] == [{"kid": retired["kid"], "x": retired["x"]}]


def test_the_retired_private_key_is_gone(capi: ConsentApi) -> None:
    old = kid_of(record(capi))
    receipts.rotate(capi.store, actor="cli:test")
    folder = data_dir(capi)
    assert not (folder / "consent-signing.key.next").exists()
    signer = ReceiptSigner(folder)
    assert signer.kid != old
    for path in (folder / receipts.KEY_FILE, folder / receipts.JWKS_FILE):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    leftovers = [p.name for p in folder.iterdir() if "consent-signing" in p.name]
    assert sorted(leftovers) == sorted(
        [receipts.KEY_FILE, receipts.JWKS_FILE, receipts.KEY_FILE + ".lock"]
    )


def test_a_receipt_signed_by_a_key_not_in_the_jwks_fails(capi: ConsentApi, tmp_path: Path) -> None:
    genuine = record(capi)
    keys = jwks(capi)
    stranger = ReceiptSigner(tmp_path / "elsewhere")
    claims = json.loads(_b64(genuine.split(".")[1]))
    unknown_kid = stranger.sign(claims)
    assert receipts.verify(unknown_kid, keys) is None
    # the same key id in the header, but another key's signature
    head = json.loads(_b64(genuine.split(".")[0]))
    head_b64 = base64.urlsafe_b64encode(json.dumps(head).encode()).rstrip(b"=").decode()
    body_b64 = genuine.split(".")[1]
    forged_sig = stranger._key().private.sign(f"{head_b64}.{body_b64}".encode())
    forged = f"{head_b64}.{body_b64}.{receipts.b64url(forged_sig)}"
    assert receipts.verify(forged, keys) is None
    with pytest.raises(InvalidSignature):
        verify_receipt(forged, keys)


def test_a_tampered_receipt_fails(capi: ConsentApi) -> None:
    genuine = record(capi)
    keys = jwks(capi)
    head, body, sig = genuine.split(".")
    claims = json.loads(_b64(body))
    claims["choices"]["categories"]["advertising"] = False
    changed = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    for token in (
        f"{head}.{changed}.{sig}",
        f"{none_alg}.{body}.",
        f"{head}.{body}.{sig[:-4]}AAAA",
        f"{head}.{body}",
        "not a receipt",
    ):
        assert receipts.verify(token, keys) is None, token
    assert receipts.verify(genuine, keys) is not None


def test_a_leaked_retired_key_cannot_vouch_for_later_receipts(capi: ConsentApi) -> None:
    genuine = record(capi)
    folder = data_dir(capi)
    leaked = folder.parent / "leaked"
    leaked.mkdir()
    shutil.copy(folder / receipts.KEY_FILE, leaked / receipts.KEY_FILE)
    receipts.rotate(capi.store, actor="cli:test")
    keys = jwks(capi)
    thief = ReceiptSigner(leaked)
    claims = json.loads(_b64(genuine.split(".")[1]))
    backdated = thief.sign({**claims, "iat": claims["iat"] - 60})
    assert receipts.verify(backdated, keys) is not None  # within its period: indistinguishable
    later = thief.sign({**claims, "iat": int(time.time()) + 3600})
    assert receipts.verify(later, keys) is None
    assert receipts.verify(later, keys, leeway=7200) is not None  # only the period refuses it


def test_a_rotation_stopped_after_the_switch_is_finished_by_the_next_run(
    capi: ConsentApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = kid_of(record(capi))

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(receipts, "_audit_once", crash)
    with pytest.raises(RuntimeError):
        receipts.rotate(capi.store, actor="cli:test")
    monkeypatch.undo()
    switched = kid_of(record(capi))
    assert switched != old
    half = {k["kid"]: k for k in jwks(capi)["keys"]}
    assert "valid_until" not in half[old]  # not retired yet
    done = receipts.rotate(capi.store, actor="cli:test")
    assert done.resumed and done.new_kid == switched and done.retired == (old,)
    assert "valid_until" in {k["kid"]: k for k in jwks(capi)["keys"]}[old]
    assert len(rotation_events(capi.store)) == 1
    again = receipts.rotate(capi.store, actor="cli:test")  # a real rotation now
    assert not again.resumed and again.retired == (switched,)


def test_a_rotation_stopped_before_the_switch_installs_the_key_it_published(
    capi: ConsentApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = kid_of(record(capi))

    def crash(*args: Any, **kwargs: Any) -> None:
        raise ConfigError("power cut")

    monkeypatch.setattr(receipts, "_install", crash)
    with pytest.raises(ConfigError, match="power cut"):
        receipts.rotate(capi.store, actor="cli:test")
    monkeypatch.undo()
    assert kid_of(record(capi)) == old  # the old key still signs, and is still valid
    published = [k["kid"] for k in jwks(capi)["keys"]]
    assert len(published) == 2 and published[0] == old
    done = receipts.rotate(capi.store, actor="cli:test")
    assert done.resumed and done.new_kid == published[1] and done.retired == (old,)
    assert kid_of(record(capi)) == done.new_kid


def test_an_installation_from_before_published_keys_adopts_its_key(capi: ConsentApi) -> None:
    before = record(capi)
    (data_dir(capi) / receipts.JWKS_FILE).unlink()  # as a key created by an older Pledge
    legacy = jwks(capi)["keys"]
    assert [k["kid"] for k in legacy] == [kid_of(before)] and "valid_from" not in legacy[0]
    receipts.rotate(capi.store, actor="cli:test")
    keys = jwks(capi)
    old = next(k for k in keys["keys"] if k["kid"] == kid_of(before))
    assert "valid_from" not in old and "valid_until" in old
    assert receipts.verify(before, keys) is not None


def test_cli_rotates_and_lists(store_env: Store) -> None:
    runner = CliRunner()
    app = build()
    nothing = runner.invoke(app, ["keys", "receipt-keys"])
    assert nothing.exit_code == 1 and "no receipt key yet" in nothing.output
    first = runner.invoke(app, ["keys", "rotate-receipts"])
    assert first.exit_code == 0, first.output
    assert "receipt key rotation finished: signing with" in first.output
    listed = runner.invoke(app, ["keys", "receipt-keys", "--format", "json"])
    keys = json.loads(listed.stdout)["keys"]
    assert len(keys) == 2 and "valid_until" in keys[1]
    text = runner.invoke(app, ["keys", "receipt-keys"]).stdout.splitlines()
    assert text[0].split()[1] == "current" and text[1].split()[1] == "retired"
    (event,) = rotation_events(store_env)
    assert event.actor.startswith("cli") and event.object_id == keys[0]["kid"]


def test_a_broken_jwks_file_is_refused_and_left_untouched(capi: ConsentApi) -> None:
    record(capi)
    path = data_dir(capi) / receipts.JWKS_FILE
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not a JWKS; the file was left untouched"):
        receipts.rotate(capi.store, actor="cli:test")
    assert path.read_text() == "{not json"
