"""The vault: per-subject keys, encrypted identities, blind indexes, crypto-shredding.

Every subject gets its own random AES-256 data key, stored only wrapped by the master key
(AES-GCM, the subject id as associated data, so a wrapped key cannot be moved to another
subject). Identities are stored encrypted with that key and found through a blind index:
HMAC-SHA-256 of the normalised value under a key derived with HKDF, one per identity kind.
`shred` destroys the wrapped data key: everything ever encrypted for that subject — in this
database, in exports, in backups once the master key that wrapped it is retired — becomes
unreadable, and the identities can no longer be found.

The blind-index and audit-hash keys derive from an installation secret stored (wrapped by the
master key) in `vault_keys`, not from the master key itself, so that rotating the master key
changes neither the index nor the identity hashes already written into the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pledge import identities
from pledge.errors import ConfigError, NotFoundError
from pledge.identities import DEFAULT_REGION
from pledge.store import audit
from pledge.store.db import Store
from pledge.store.errors import IdentityError, ShreddedError, VaultError
from pledge.store.keyfiles import KEY_BYTES, NONCE_BYTES, Keyring, MasterKey, old_path, write_key
from pledge.store.tables import IDENTITY_KINDS, Identity, Subject, VaultKey, utcnow

INDEX_SECRET = "index"
INDEX_FORMAT = "index-format"
"""`vault_keys` row naming the normalisation the blind indexes were computed with."""
INDEX_VERSION = "2"
DATA_VERSION = b"\x01"


def normalise(kind: str, value: str, region: str = DEFAULT_REGION) -> str:
    """The canonical form of an identity: what is indexed, hashed and stored.

    The rules live in `pledge.identities` (e-mail: lower case, NFC, IDN domain as A-label;
    phone: E.164, read in `region` without a country code); bad values are an IdentityError.
    """
    try:
        return identities.normalise(kind, value, region)
    except identities.InvalidIdentity as exc:
        raise IdentityError(str(exc)) from None


def _derive(secret: bytes, label: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode())
    return hkdf.derive(secret)


def _subject_aad(subject_id: str) -> bytes:
    return b"pledge/subject-key/v1\x00" + subject_id.encode()


def _secret_aad(name: str) -> bytes:
    return b"pledge/vault-key/v1\x00" + name.encode()


def _identity_aad(subject_id: str, kind: str) -> bytes:
    return b"pledge/identity/v1\x00" + subject_id.encode() + b"\x00" + kind.encode()


def _data_aad(subject_id: str, aad: bytes) -> bytes:
    return b"pledge/data/v1\x00" + subject_id.encode() + b"\x00" + aad


@dataclass(frozen=True)
class ShredResult:
    subject_id: str
    shredded: bool  # False when it had been shredded before
    identities_deleted: int


class Vault:
    """Subject keys and identities; open it with `store.vault` (one per process)."""

    def __init__(self, keyring: Keyring, index_secret: bytes, region: str = DEFAULT_REGION) -> None:
        self.keyring = keyring
        self.region = region.upper()
        """Where a phone number without country code is read (`PLEDGE_PHONE_REGION`)."""
        self._index_keys = {
            kind: _derive(index_secret, f"pledge/blind-index/v1/{kind}") for kind in IDENTITY_KINDS
        }
        self._audit_key = _derive(index_secret, "pledge/audit-identity/v1")
        self._secret = index_secret

    def derive_key(self, label: str) -> bytes:
        """A 32-byte secret of this installation for `label` (HKDF, domain-separated).

        Stable across processes and master-key rotations, like the blind index; services use
        it for their own MACs (verification codes, unsubscribe links) instead of new key files.
        """
        return _derive(self._secret, f"pledge/service-key/v1/{label}")

    @classmethod
    def open(cls, store: Store) -> Vault:
        """Load the master key and the index secret (both created on a brand-new installation).

        Reads first and writes only on the very first run: call it at process start, outside
        any transaction (`store.vault` does this lazily), so SQLite's one writer is free.
        """
        keyring = _open_keyring(store)
        try:
            region = identities.check_region(store.settings.phone_region)
        except identities.InvalidIdentity as exc:
            raise ConfigError(f"PLEDGE_PHONE_REGION: {exc}") from None
        with store.reader() as session:
            row = session.get(VaultKey, INDEX_SECRET)
        if row is None:
            with store.transaction() as session:
                secret = _ensure_index_secret(session, keyring, index_format(region))
                return cls(keyring, secret, region)
        return cls(keyring, _unwrap_index_secret(row, keyring), region)

    @property
    def index_format(self) -> str:
        """The normalisation new blind indexes are computed with (version and phone region)."""
        return index_format(self.region)

    def stored_index_format(self, session: Session) -> str | None:
        """The normalisation the stored indexes were computed with (None: before version 2)."""
        return session.scalar(select(VaultKey.key_id).where(VaultKey.name == INDEX_FORMAT))

    def normalise(self, kind: str, value: str) -> str:
        """`normalise` with this installation's phone region."""
        return normalise(kind, value, self.region)

    # -- identities -----------------------------------------------------------------------

    def blind_index(self, kind: str, value: str) -> bytes:
        """The keyed lookup value of an identity (domain-separated per kind)."""
        text = self.normalise(kind, value)
        return hmac.new(self._index_keys[kind], text.encode(), hashlib.sha256).digest()

    def hash_identity(self, kind: str, value: str) -> str:
        """A keyed hash of an identity for audit details and logs (never the raw value).

        Stable across master key rotations, different from the blind index, so an audit
        export cannot be joined to the identities table.
        """
        text = self.normalise(kind, value)
        mac = hmac.new(self._audit_key, f"{kind}\x00{text}".encode(), hashlib.sha256)
        return "ih1:" + mac.hexdigest()[:32]

    def find_subject(self, session: Session, kind: str, value: str) -> str | None:
        """The subject holding this identity, or None (also after it was shredded)."""
        index = self.blind_index(kind, value)
        query = select(Identity.subject_id).where(
            Identity.kind == kind, Identity.blind_index == index
        )
        return session.execute(query).scalar_one_or_none()

    def find_or_create_subject(
        self, session: Session, kind: str, value: str, *, actor: str = "system"
    ) -> str:
        """The subject with this identity, created (with its own key) if there is none.

        Safe with concurrent callers: a second transaction inserting the same identity hits
        the unique blind index, rolls back its savepoint and returns the first one's subject.
        """
        found = self.find_subject(session, kind, value)
        if found is not None:
            return found
        try:
            with session.begin_nested():
                subject_id = self._create_subject(session, kind, value, actor)
        except IntegrityError:
            found = self.find_subject(session, kind, value)
            if found is None:
                raise
            return found
        return subject_id

    def _create_subject(self, session: Session, kind: str, value: str, actor: str) -> str:
        subject_id = str(uuid.uuid4())
        master = self._wrapping_key(session)
        data_key = secrets.token_bytes(KEY_BYTES)
        session.add(
            Subject(
                id=subject_id,
                key_id=master.key_id,
                wrapped_key=master.wrap(data_key, _subject_aad(subject_id)),
            )
        )
        session.flush()
        self._insert_identity(session, subject_id, data_key, kind, value)
        details = {"identity": {"kind": kind, "hash": self.hash_identity(kind, value)}}
        audit.append(session, actor, "subject.created", "subject", subject_id, details)
        return subject_id

    def add_identity(
        self, session: Session, subject_id: str, kind: str, value: str, *, actor: str
    ) -> bool:
        """Link one more identity to a subject; False if it already belongs to that subject.

        Raises VaultError if the identity belongs to another subject: merging people is a
        decision for a person, not a side effect.
        """
        owner = self.find_subject(session, kind, value)
        if owner == subject_id:
            return False
        if owner is not None:
            raise VaultError(f"this {kind} already belongs to another subject; merge them first")
        data_key = self._data_key(session, subject_id)
        self._insert_identity(session, subject_id, data_key, kind, value)
        details = {"identity": {"kind": kind, "hash": self.hash_identity(kind, value)}}
        audit.append(session, actor, "subject.identity_added", "subject", subject_id, details)
        return True

    def _insert_identity(
        self, session: Session, subject_id: str, data_key: bytes, kind: str, value: str
    ) -> None:
        text = self.normalise(kind, value)
        session.add(
            Identity(
                subject_id=subject_id,
                kind=kind,
                blind_index=self.blind_index(kind, text),
                ciphertext=seal_identity(data_key, subject_id, kind, text),
            )
        )
        session.flush()

    def identities(self, session: Session, subject_id: str) -> dict[str, list[str]]:
        """The subject's identities in clear text, by kind ({} once shredded)."""
        subject = self._subject(session, subject_id)
        if subject.shredded_at is not None:
            return {}
        data_key = self._unwrap(subject)
        rows = session.execute(
            select(Identity.kind, Identity.ciphertext)
            .where(Identity.subject_id == subject_id)
            .order_by(Identity.id)
        )
        found: dict[str, list[str]] = defaultdict(list)
        for kind, blob in rows:
            found[kind].append(open_identity(data_key, subject_id, kind, blob))
        return dict(found)

    def reindex_identity(self, session: Session, identity: Identity) -> str:
        """Recompute one stored identity's canonical form and blind index under today's rules.

        Returns "same", "changed", "merged" (the subject already held the new form: the old
        row is dropped), "conflict" (another subject holds it: left alone, merging people is
        a decision for a person) or "invalid" (no longer readable as its kind: left alone).
        """
        sid, kind = identity.subject_id, identity.kind
        data_key = self._data_key(session, sid)
        try:
            text = self.normalise(kind, open_identity(data_key, sid, kind, identity.ciphertext))
        except IdentityError:
            return "invalid"
        index = self.blind_index(kind, text)
        if index == identity.blind_index:
            return "same"
        owner = session.scalar(
            select(Identity.subject_id).where(Identity.kind == kind, Identity.blind_index == index)
        )
        if owner == sid:
            session.delete(identity)
            session.flush()
            return "merged"
        if owner is not None:
            return "conflict"
        identity.blind_index = index
        identity.ciphertext = seal_identity(data_key, sid, kind, text)
        session.flush()
        return "changed"

    # -- data encrypted for a subject -----------------------------------------------------

    def encrypt_for(
        self, session: Session, subject_id: str, data: bytes, aad: bytes = b""
    ) -> bytes:
        """Encrypt `data` with the subject's key; `aad` binds it to its context (a file name)."""
        key = self._data_key(session, subject_id)
        nonce = secrets.token_bytes(NONCE_BYTES)
        return DATA_VERSION + nonce + AESGCM(key).encrypt(nonce, data, _data_aad(subject_id, aad))

    def decrypt_for(
        self, session: Session, subject_id: str, blob: bytes, aad: bytes = b""
    ) -> bytes:
        """Decrypt what `encrypt_for` produced; ShreddedError once the subject was shredded."""
        if blob[:1] != DATA_VERSION:
            raise VaultError("not data encrypted by Pledge's vault (unknown format version)")
        key = self._data_key(session, subject_id)
        return _open(key, blob[1:], _data_aad(subject_id, aad), "the data")

    # -- shredding ------------------------------------------------------------------------

    def shred(self, session: Session, subject_id: str, actor: str, reason: str) -> ShredResult:
        """Destroy the subject's key and identities, and record it in the same transaction.

        Idempotent: shredding again changes nothing and writes no second event. `reason` goes
        into the audit log, so it must name a request or a rule, never the person.
        """
        subject = session.get(Subject, subject_id, with_for_update=True)
        if subject is None:
            raise NotFoundError(f"subject {subject_id} does not exist")
        if subject.shredded_at is not None:
            return ShredResult(subject_id, False, 0)
        gone = session.execute(delete(Identity).where(Identity.subject_id == subject_id))
        count = int(getattr(gone, "rowcount", 0) or 0)
        subject.wrapped_key = None
        subject.key_id = None
        subject.shredded_at = utcnow()
        session.flush()
        details = {"reason": reason, "identities_deleted": count}
        audit.append(session, actor, "subject.shredded", "subject", subject_id, details)
        return ShredResult(subject_id, True, count)

    # -- keys -----------------------------------------------------------------------------

    def _subject(self, session: Session, subject_id: str) -> Subject:
        subject = session.get(Subject, subject_id, populate_existing=True)
        if subject is None:
            raise NotFoundError(f"subject {subject_id} does not exist")
        return subject

    def _data_key(self, session: Session, subject_id: str) -> bytes:
        return self._unwrap(self._subject(session, subject_id))

    def _unwrap(self, subject: Subject) -> bytes:
        if subject.wrapped_key is None or subject.key_id is None:
            when = f"{subject.shredded_at:%Y-%m-%d %H:%M} UTC" if subject.shredded_at else ""
            raise ShreddedError(
                f"subject {subject.id} was shredded {when}: its key is destroyed, so its "
                "encrypted data cannot be read by anyone"
            )
        master = self.keyring.get(subject.key_id)
        return master.unwrap(subject.wrapped_key, _subject_aad(subject.id))

    def _wrapping_key(self, session: Session) -> MasterKey:
        """The master key new data keys are wrapped with, as the database says right now.

        Reading `vault_keys` (FOR SHARE on PostgreSQL) orders this transaction against a
        rotation: either it commits before the switch, and the rotation re-wraps its key, or
        it starts after and already uses the new master key.
        """
        query = select(VaultKey.key_id).where(VaultKey.name == INDEX_SECRET)
        store = session.info.get("pledge_store")
        if isinstance(store, Store) and store.is_postgres:
            query = query.with_for_update(read=True)
        key_id = session.execute(query).scalar_one()
        return self.keyring.get(key_id)


def index_format(region: str) -> str:
    return f"v{INDEX_VERSION}/{region.upper()}"


def seal_identity(data_key: bytes, subject_id: str, kind: str, text: str) -> bytes:
    """An identity encrypted with its subject's key, bound to subject and kind."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(data_key).encrypt(nonce, text.encode(), _identity_aad(subject_id, kind))
    return nonce + sealed


def open_identity(data_key: bytes, subject_id: str, kind: str, blob: bytes) -> str:
    """What `seal_identity` sealed (VaultError if it was altered or moved)."""
    return _open(data_key, blob, _identity_aad(subject_id, kind), "an identity").decode()


def _open(key: bytes, blob: bytes, aad: bytes, what: str) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise VaultError(
            f"{what} does not decrypt: it was altered, or belongs to another subject or context"
        ) from exc


def _open_keyring(store: Store) -> Keyring:
    """Load the master key; create it only when the database has never had one."""
    path = store.settings.master_key_path
    if not path.exists():
        with store.reader() as session:
            known = session.scalar(select(VaultKey.key_id).where(VaultKey.name == INDEX_SECRET))
        # Another process may have created the key between our two looks (it writes the file
        # before the database row): then the file is there now.
        if known is not None and not path.exists():
            raise ConfigError(
                f"{path}: the master key file is missing, but this database was set up with "
                f"master key {known}. Restore that file (or set PLEDGE_MASTER_KEY_FILE); "
                "a new key would not open anything already stored"
            )
        if known is None and not old_path(path).exists():
            write_key(path, MasterKey.generate())
    return Keyring(path)


def _ensure_index_secret(session: Session, keyring: Keyring, fmt: str) -> bytes:
    row = session.get(VaultKey, INDEX_SECRET)
    if row is None:
        secret = secrets.token_bytes(KEY_BYTES)
        master = keyring.current
        try:
            with session.begin_nested():
                wrapped = master.wrap(secret, _secret_aad(INDEX_SECRET))
                session.add(VaultKey(name=INDEX_SECRET, key_id=master.key_id, wrapped=wrapped))
                # a new installation has no index to redo: it starts in the current format
                session.add(VaultKey(name=INDEX_FORMAT, key_id=fmt, wrapped=b""))
            return secret
        except IntegrityError:
            row = session.get(VaultKey, INDEX_SECRET, populate_existing=True)
            assert row is not None
    return _unwrap_index_secret(row, keyring)


def _unwrap_index_secret(row: VaultKey, keyring: Keyring) -> bytes:
    try:
        master = keyring.get(row.key_id)
    except VaultError as exc:
        raise ConfigError(
            f"{keyring.path}: holds master key {keyring.current.key_id}, but this database was "
            f"set up with master key {row.key_id}; point PLEDGE_MASTER_KEY_FILE at the right "
            "file"
        ) from exc
    return master.unwrap(row.wrapped, _secret_aad(INDEX_SECRET))


def rewrap_secret(session: Session, master: MasterKey, keyring: Keyring) -> None:
    """Re-wrap the index secret under `master` (the switch point of a rotation)."""
    row = session.get(VaultKey, INDEX_SECRET, with_for_update=True)
    if row is None:
        raise VaultError("the vault has no index secret yet; nothing to rotate")
    if row.key_id == master.key_id:
        return
    secret = keyring.get(row.key_id).unwrap(row.wrapped, _secret_aad(INDEX_SECRET))
    row.wrapped = master.wrap(secret, _secret_aad(INDEX_SECRET))
    row.key_id = master.key_id
    row.updated_at = utcnow()


def rewrap_subject_key(old: MasterKey, new: MasterKey, subject_id: str, wrapped: bytes) -> bytes:
    """A subject's data key, unwrapped with `old` and wrapped with `new`."""
    aad = _subject_aad(subject_id)
    return new.wrap(old.unwrap(wrapped, aad), aad)
