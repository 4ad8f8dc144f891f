"""Helpers of the request workflow's tests: a product in SQLite, a store, jobs, the outbox."""

from __future__ import annotations

import email
import re
import sqlite3
import threading
from email.message import Message
from functools import cache
from pathlib import Path
from typing import Any

from pledge.manifest.model import Manifest
from pledge.manifest_holder import ManifestHolder
from pledge.requests import service
from pledge.runtime.installation import Installation
from pledge.runtime.workers import load_handler_modules
from pledge.store.db import Store
from pledge.store.jobs import Worker

FIXTURE = Path(__file__).parent / "fixtures" / "app" / "pledge.yaml"
ALICE, BOB = "alice@example.com", "bob@example.com"
TENANT_CONTACT = "dpo@customer.example"

APP_SQL = """
CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(254) NOT NULL, name VARCHAR(200));
CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
                     note VARCHAR(200));
INSERT INTO users VALUES (1, 'alice@example.com', 'Alice Example');
INSERT INTO users VALUES (2, 'bob@example.com', 'Bob Example');
INSERT INTO orders VALUES (10, 1, 'Blue mug'), (11, 1, 'Red mug'), (12, 2, 'Tea');
"""
HOSTED_SQL = """
CREATE TABLE tenants (id INTEGER PRIMARY KEY, privacy_contact_email VARCHAR(254));
CREATE TABLE members (id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL REFERENCES tenants(id),
                      email VARCHAR(254) NOT NULL);
INSERT INTO tenants VALUES (1, 'dpo@customer.example');
INSERT INTO members VALUES (1, 1, 'alice@example.com');
"""


def create_product(folder: Path) -> dict[str, str]:
    """The two SQLite files; returns the environment variables naming them."""
    paths = {"FLOW_APP_URL": folder / "app.db", "FLOW_HOSTED_URL": folder / "hosted.db"}
    for (_, path), script in zip(paths.items(), (APP_SQL, HOSTED_SQL), strict=True):
        with sqlite3.connect(path) as conn:
            conn.executescript(script)
    return {name: f"sqlite:///{path}" for name, path in paths.items()}


def dump(path: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of a product file, for before/after comparisons."""
    with sqlite3.connect(path.removeprefix("sqlite:///")) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: sorted(conn.execute(f"SELECT * FROM {n}").fetchall()) for n in names}


@cache
def _holder(path: str) -> ManifestHolder:
    return ManifestHolder(path)


def flow_worker(store: Store, **options: Any) -> Worker:
    """A worker of the store's installation, with the manifest its settings name (as the
    embedded worker of `pledge serve` gets it)."""
    assert store.settings.manifest is not None
    load_handler_modules()
    holder = _holder(str(store.settings.manifest))
    return Installation(store.settings, store, holder).worker(**options)


def run_jobs(store: Store) -> int:
    """Run every ready job (mail included) until none is left."""
    return flow_worker(store, poll_interval=0.01).run(threading.Event(), once=True)


def outbox(store: Store) -> list[Message]:
    folder = store.settings.data_dir / "outbox"
    if not folder.exists():
        return []
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def body(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    return ""


def mails_to(store: Store, address: str) -> list[Message]:
    return [m for m in outbox(store) if address in str(m["To"])]


#: A code in the text part: eight digits on a line of their own (the mail macro `code`), so
#: that digits elsewhere in a mail (a token, a link) are never taken for one.
_CODE = re.compile(r"^(\d{8})\r?$", re.MULTILINE)


def code_in(message: Message) -> str | None:
    """The verification code a mail carries, if it is a code mail."""
    found = _CODE.search(body(message))
    return found.group(1) if found else None


def latest_code(store: Store, address: str) -> str:
    """The newest verification code mailed to `address`."""
    for message in reversed(mails_to(store, address)):
        code = code_in(message)
        if code:
            return code
    raise AssertionError(f"no code was mailed to {address}")


def confirmed_request(store: Store, manifest: Manifest, kind: str) -> service.Submitted:
    """A request Alice sent from Norway and confirmed with the mailed code; not yet run."""
    intake = service.Intake(kind=kind, email=ALICE, country="NO")
    with store.transaction() as session:
        done = service.submit(
            session, manifest, intake, actor="subject", public_url=store.settings.public_url
        )
    run_jobs(store)
    with store.transaction() as session:
        service.verify(session, manifest, done.id, latest_code(store, ALICE))
    return done


def link_in(message: Message, pattern: str) -> str:
    found = re.search(pattern, body(message))
    assert found, f"no link matching {pattern} in the mail"
    return found.group(0)


#: A mailed download link: the page whose button spends it (`/privacy/requests/download/…`).
DOWNLOAD_LINK = r"/privacy/requests/download/[A-Za-z0-9_-]+"
_FORM_TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


def click_download(client: Any, url: str) -> Any:
    """Open a mailed download link and press its button, as a person does (a test client)."""
    page = client.get(url)
    assert page.status_code == 200, page.text
    token = _FORM_TOKEN.search(page.text)
    assert token, "the download page has no button form"
    return client.post(url, data={"csrf": token.group(1)})


_LINKS = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: `dataset.collection.field`, a category key, or a `name.with_underscore` path.
_PATH = re.compile(
    r"\b[a-z]\w*\.[a-z]\w*\.[a-z]\w*\b|\b[a-z]\w*\.[a-z]*_\w*\b|\b[a-z]\w*/[a-z]\w*:"
)
_RUN_TOGETHER = re.compile(r"\w[.!?:][A-ZÆØÅÄÖÜÉ]")
_RAW = re.compile(r"%\(\w+\)s|\{\{|\{%|\b[a-z]+_[a-z_]+\b")


def wording_problems(text: str) -> list[str]:
    """What a person should never read: column paths or keys, sentences run together,
    placeholders left over. Links and e-mail addresses are left out of the check."""
    plain = _LINKS.sub(" ", text)
    found = [f"path {p!r}" for p in _PATH.findall(plain)]
    found += [f"no space in {m!r}" for m in _RUN_TOGETHER.findall(plain)]
    found += [f"raw {m!r}" for m in _RAW.findall(plain)]
    return found
