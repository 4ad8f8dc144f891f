"""The vault: identities encrypted and found by blind index, crypto-shredding, master keys."""

from __future__ import annotations

import hmac
import os
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text

from pledge.config import Settings
from pledge.errors import ConfigError, NotFoundError
from pledge.store import ShreddedError, Store, VaultError, audit
from pledge.store.errors import IdentityError
from pledge.store.keyfiles import MasterKey, old_path, read_key, replace_key
from pledge.store.migrations import upgrade
from pledge.store.reindex import needs_reindex, reindex
from pledge.store.rotation import rotate_master
from pledge.store.tables import AuditEvent, Identity, Subject, VaultKey
from pledge.store.vault import INDEX_FORMAT, normalise, seal_identity

EMAIL = "Ada.Lovelace@Example.org"


def new_subject(store: Store, kind: str = "email", value: str = EMAIL) -> str:
    with store.transaction() as session:
        return store.vault.find_or_create_subject(session, kind, value, actor="test")


def test_identities_round_trip_and_are_found_by_blind_index(store: Store) -> None:
    sid = new_subject(store)
    with store.transaction() as session:
        vault = store.vault
        assert vault.find_subject(session, "email", "  ada.lovelace@EXAMPLE.org ") == sid
        assert vault.find_or_create_subject(session, "email", EMAIL.upper()) == sid
        assert vault.add_identity(session, sid, "phone", "+44 (20) 7946-0000", actor="test")
        assert vault.find_subject(session, "phone", "+442079460000") == sid
        assert vault.find_subject(session, "email", "someone.else@example.org") is None
        assert vault.identities(session, sid) == {
            "email": ["ada.lovelace@example.org"],
            "phone": ["+442079460000"],
        }


def test_no_identity_is_stored_in_clear_text(store: Store) -> None:
    sid = new_subject(store)
    with store.reader() as session:
        rows = session.execute(select(Identity.blind_index, Identity.ciphertext)).all()
        events = session.execute(select(AuditEvent.details)).scalars().all()
    blob = b"".join(b for row in rows for b in row) + "".join(events).encode()
    assert b"lovelace" not in blob.lower()
    assert sid and len(rows) == 1
    if store.is_sqlite:
        store.dispose()
        raw = Path(store.url.database or "").read_bytes()
        assert b"lovelace" not in raw.lower()


def test_data_encrypted_for_a_subject_round_trips_and_is_bound_to_it(store: Store) -> None:
    ada, bob = new_subject(store), new_subject(store, "user_id", "u-42")
    with store.transaction() as session:
        vault = store.vault
        sealed = vault.encrypt_for(session, ada, b"access package", aad=b"export.zip")
        assert vault.decrypt_for(session, ada, sealed, aad=b"export.zip") == b"access package"
        with pytest.raises(VaultError):
            vault.decrypt_for(session, bob, sealed, aad=b"export.zip")
        with pytest.raises(VaultError):
            vault.decrypt_for(session, ada, sealed, aad=b"other.zip")
        tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
        with pytest.raises(VaultError):
            vault.decrypt_for(session, ada, tampered, aad=b"export.zip")


def test_shred_makes_data_unreadable_and_identities_unfindable(store: Store) -> None:
    sid = new_subject(store)
    with store.transaction() as session:
        sealed = store.vault.encrypt_for(session, sid, b"order history")
        result = store.vault.shred(session, sid, actor="key:po", reason="erasure request R-1")
    assert result.shredded and result.identities_deleted == 1
    with store.transaction() as session:
        vault = store.vault
        with pytest.raises(ShreddedError, match="shredded"):
            vault.decrypt_for(session, sid, sealed)
        with pytest.raises(ShreddedError):
            vault.encrypt_for(session, sid, b"more")
        assert vault.find_subject(session, "email", EMAIL) is None
        assert vault.identities(session, sid) == {}
        subject = session.get(Subject, sid)
        assert subject is not None and subject.wrapped_key is None and subject.shredded_at
        assert not vault.shred(session, sid, actor="key:po", reason="again").shredded
        # the same person coming back is a new subject with a new key
        assert vault.find_or_create_subject(session, "email", EMAIL) != sid
    with store.reader() as session:
        page = audit.list_events(session, audit.EventFilter(action="subject.shredded"))
    assert [e.object_id for e in page.events] == [sid]
    assert page.events[0].details == {"reason": "erasure request R-1", "identities_deleted": 1}
    assert audit.verify(store).ok


def test_shred_unknown_subject_is_a_clear_error(store: Store) -> None:
    with store.transaction() as session, pytest.raises(NotFoundError):
        store.vault.shred(session, "no-such-subject", actor="t", reason="r")


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("email", "  Ada@Example.ORG\n", "ada@example.org"),
        ("phone", "+47 912 34 567", "+4791234567"),
        ("phone", "(555) 123-4567", "+15551234567"),  # no country code: PLEDGE_PHONE_REGION
        ("user_id", " u-1 ", "u-1"),
        ("customer_id", "C\u0065\u0301", "C\u00e9"),  # NFC: e + combining acute = é
    ],
)
def test_normalise(kind: str, value: str, expected: str) -> None:
    assert normalise(kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "no-at-sign"),
        ("email", "two@@example.org"),
        ("email", ""),
        ("phone", "1-800-FLOWERS"),
        ("phone", "12+34"),
        ("user_id", "a\u200bb"),
        ("passport", "X1"),
    ],
)
def test_bad_identities_are_refused(kind: str, value: str) -> None:
    with pytest.raises(IdentityError):
        normalise(kind, value)


def test_master_key_is_created_private_on_first_run(store: Store) -> None:
    new_subject(store)
    path = store.settings.master_key_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.settings.data_dir.stat().st_mode) == 0o700


@pytest.mark.parametrize("content", [b"", b"short", b"pledge-master-key:1:AAAA\n", b"\x00" * 31])
def test_corrupt_master_key_file_is_refused_and_left_untouched(
    settings: Settings, content: bytes
) -> None:
    path = settings.master_key_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.chmod(path, 0o600)
    store = Store(settings)
    upgrade(store)
    try:
        with pytest.raises(ConfigError, match=r"not a Pledge master key.*left untouched"):
            store.vault  # noqa: B018
        assert path.read_bytes() == content
    finally:
        store.dispose()


def test_missing_master_key_is_not_silently_replaced(store: Store) -> None:
    new_subject(store)
    path = store.settings.master_key_path
    path.unlink()
    fresh = Store(store.settings)
    try:
        with pytest.raises(ConfigError, match=r"missing.*Restore"):
            fresh.vault  # noqa: B018
        assert not path.exists()
    finally:
        fresh.dispose()


def test_a_key_created_by_another_process_meanwhile_is_used(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes starting on a new data folder: the second looks for the file just before
    the first writes it, and finds the first's database row just after."""
    subject = new_subject(store)
    path = store.settings.master_key_path
    real_exists = Path.exists
    looks: list[Path] = []

    def first_look_misses(self: Path) -> bool:
        if self == path and not looks:
            looks.append(self)
            return False
        return real_exists(self)

    monkeypatch.setattr(Path, "exists", first_look_misses)
    fresh = Store(store.settings)
    try:
        with fresh.reader() as session:
            assert fresh.vault.find_subject(session, "email", EMAIL) == subject
        assert looks == [path]
    finally:
        fresh.dispose()


def test_wrong_master_key_is_named(store: Store) -> None:
    new_subject(store)
    path = store.settings.master_key_path
    path.write_bytes(MasterKey.generate().encode())
    fresh = Store(store.settings)
    try:
        with pytest.raises(ConfigError, match="set up with master key"):
            fresh.vault  # noqa: B018
    finally:
        fresh.dispose()


def test_operator_supplied_hex_key_is_accepted(settings: Settings) -> None:
    path = settings.master_key_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("ab" * 32 + "\n")
    assert read_key(path).secret == bytes.fromhex("ab" * 32)


def test_rotate_master_keeps_everything_readable(store: Store, tmp_path: Path) -> None:
    subjects, sealed = [], {}
    for i in range(7):
        sid = new_subject(store, "user_id", f"user-{i}")
        subjects.append(sid)
        with store.transaction() as session:
            sealed[sid] = store.vault.encrypt_for(session, sid, f"secret {i}".encode())
    shredded = subjects.pop()
    with store.transaction() as session:
        store.vault.shred(session, shredded, actor="t", reason="test")
        before = store.vault.hash_identity("user_id", "user-0")
    old_id = store.vault.keyring.current.key_id

    report = rotate_master(store, batch_size=3)

    assert report.old_key_id == old_id and report.new_key_id != old_id
    assert report.rewrapped == 6 and not report.resumed and report.old_key_file is None
    assert not old_path(store.settings.master_key_path).exists()
    fresh = Store(store.settings)  # a new process knows only the new key file
    try:
        with fresh.transaction() as session:
            vault = fresh.vault
            for i, sid in enumerate(subjects):
                assert vault.decrypt_for(session, sid, sealed[sid]) == f"secret {i}".encode()
                assert vault.find_subject(session, "user_id", f"user-{i}") == sid
            assert vault.hash_identity("user_id", "user-0") == before
            with pytest.raises(ShreddedError):
                vault.decrypt_for(session, shredded, sealed[shredded])
            key_ids = set(session.execute(text("SELECT key_id FROM subjects")).scalars())
            assert key_ids == {report.new_key_id, None}
        new_subject(fresh, "user_id", "after-rotation")
        assert audit.verify(fresh).ok
    finally:
        fresh.dispose()


def test_rotation_resumes_after_a_crash_and_uses_a_given_key(store: Store, tmp_path: Path) -> None:
    sid = new_subject(store)
    path = store.settings.master_key_path
    given = tmp_path / "new.key"
    given.write_bytes(MasterKey.generate().encode())
    given.chmod(0o600)
    given_id = read_key(given).key_id
    # crash after the new key was installed, before anything was re-wrapped
    os.link(path, old_path(path))
    replace_key(path, read_key(given))
    report = rotate_master(store, given)
    assert report.resumed and report.new_key_id == given_id and report.rewrapped == 1
    with store.transaction() as session:
        assert store.vault.identities(session, sid) == {"email": [EMAIL.lower()]}


def test_rotation_can_keep_the_old_key(store: Store) -> None:
    new_subject(store)
    report = rotate_master(store, keep_old=True)
    assert report.old_key_file is not None and report.old_key_file.exists()
    assert read_key(report.old_key_file).key_id == report.old_key_id


def test_concurrent_find_or_create_returns_one_subject(store: Store) -> None:
    store.vault  # noqa: B018  (load keys before the race)
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        try:
            barrier.wait()
            results.append(new_subject(store, "customer_id", "C-1001"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    with store.reader() as session:
        assert session.execute(text("SELECT count(*) FROM subjects")).scalar() == 1
    assert audit.verify(store).ok


# --- one person, one identity ------------------------------------------------------------------


def use_region(store: Store, region: str) -> None:
    """As if PLEDGE_PHONE_REGION=region (the vault is already open)."""
    store.settings.phone_region = region
    store.vault.region = region


def test_spellings_of_one_identity_find_one_subject(store: Store) -> None:
    use_region(store, "NO")
    sid = new_subject(store, "email", "Ada@Bücher.Example")
    with store.transaction() as session:
        vault = store.vault
        for spelling in ("ada@bücher.example", " ADA@XN--BCHER-KVA.EXAMPLE", "Ada@Bücher.example"):
            assert vault.find_subject(session, "email", spelling) == sid
        assert vault.find_subject(session, "email", "a.da@bücher.example") is None
        assert vault.add_identity(session, sid, "phone", "22 33 44 55", actor="test")
        for spelling in ("+4722334455", "+47 22 33 44 55", "22334455", "0047 22 33 44 55"):
            assert vault.find_subject(session, "phone", spelling) == sid
        assert not vault.add_identity(session, sid, "phone", "+47 22-33-44-55", actor="test")
        assert vault.identities(session, sid) == {
            "email": ["ada@xn--bcher-kva.example"],
            "phone": ["+4722334455"],
        }


def legacy_identity(store: Store, sid: str, kind: str, stored: str) -> None:
    """An identity as an earlier version indexed it: the index of `stored` as it was."""
    vault = store.vault
    with store.transaction() as session:
        key = vault._data_key(session, sid)
        session.add(
            Identity(
                subject_id=sid,
                kind=kind,
                blind_index=hmac.new(vault._index_keys[kind], stored.encode(), "sha256").digest(),
                ciphertext=seal_identity(key, sid, kind, stored),
            )
        )
        session.execute(delete(VaultKey).where(VaultKey.name == INDEX_FORMAT))


def test_reindex_finds_subjects_stored_under_the_old_rules(store: Store) -> None:
    use_region(store, "NO")
    ada = new_subject(store, "user_id", "u-ada")
    legacy_identity(store, ada, "email", "Ada@Example.com")
    legacy_identity(store, ada, "phone", "22334455")  # digits only, as before E.164
    bob = new_subject(store, "email", "bob@example.com")
    legacy_identity(store, bob, "email", "BOB@example.com")  # bob's own, twice after all
    eve = new_subject(store, "email", "eve@example.com")
    mallory = new_subject(store, "user_id", "u-m")
    legacy_identity(store, mallory, "email", "EVE@example.com")  # now another subject's
    with store.reader() as session:
        assert store.vault.find_subject(session, "email", "ada@example.com") is None
    assert needs_reindex(store)

    report = reindex(store, actor="test", batch_size=2)

    assert report.outcomes == {"same": 4, "changed": 2, "merged": 1, "conflict": 1}
    assert report.conflicts == (mallory,) and report.old_format is None
    assert not needs_reindex(store)
    with store.transaction() as session:
        vault = store.vault
        assert vault.find_subject(session, "email", "ada@example.com") == ada
        assert vault.find_subject(session, "email", "ADA@example.com") == ada
        assert vault.find_subject(session, "phone", "+47 22 33 44 55") == ada
        assert vault.find_subject(session, "email", "Eve@Example.com") == eve
        assert vault.identities(session, ada)["email"] == ["ada@example.com"]
        assert vault.identities(session, bob) == {"email": ["bob@example.com"]}
    with store.reader() as session:
        page = audit.list_events(session, audit.EventFilter(action="vault.reindexed"))
    [event] = page.events
    assert event.details["changed"] == 2 and event.details["to"] == "v2/NO"
    assert audit.verify(store).ok
    again = reindex(store, actor="test")
    assert again.outcomes == {"same": 6, "conflict": 1}


def test_a_new_installation_needs_no_reindex(store: Store) -> None:
    new_subject(store)
    assert not needs_reindex(store)
    use_region(store, "GB")  # PLEDGE_PHONE_REGION changed: national numbers read anew
    assert needs_reindex(store)
