"""`pledge demo`: the example's product databases, fictional people, and the running service."""

from __future__ import annotations

import contextlib
import email
import io
import json
import os
import re
import sqlite3
import stat
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from apisupport import free_port, pledge_command, wait_for_health

from browsersupport import chromium
from pledge.demo import (
    EXAMPLE,
    SEED,
    create_table_sql,
    find_example,
    make_people,
    prepare_databases,
)
from pledge.errors import ConfigError
from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest

ROOT = Path(__file__).parents[2]
EXAMPLE_DOMAIN = re.compile(r"@[a-z0-9.-]+\.example\.(com|org|net)$")


@pytest.fixture(scope="module")
def lumen() -> Manifest:
    return load_manifest(ROOT / EXAMPLE)


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def test_people_are_fictional_and_deterministic() -> None:
    crowd = make_people(120, seed=7)
    assert crowd == make_people(120, seed=7)
    assert crowd != make_people(120, seed=8)
    assert len({p.email for p in crowd}) == 120
    for person in crowd:
        assert EXAMPLE_DOMAIN.search(person.email), person.email
        assert re.fullmatch(r"\+1 202 555 01\d\d|\+44 7700 900\d{3}", person.phone)


def test_databases_follow_the_datasets(lumen: Manifest, tmp_path: Path) -> None:
    made = prepare_databases(lumen, tmp_path, 80, seed=3)
    assert {db.url_env for db in made} >= {"LUMEN_ACCOUNTS_URL", "LUMEN_BILLING_URL"}
    for db in made:
        assert db.created and db.rows > 80
        assert _rows(db.path, "PRAGMA foreign_key_check") == []
        tables = {t for (t,) in _rows(db.path, "SELECT name FROM sqlite_master WHERE type='table'")}
        collections = {
            c.name for s in db.systems for d in lumen.datasets_of(s) for c in d.collections
        }
        assert tables == collections  # nothing of the demo's own in the product's schema
        for dataset in (d for s in db.systems for d in lumen.datasets_of(s)):
            for collection in dataset.collections:
                columns = [r[1] for r in _rows(db.path, f'PRAGMA table_info("{collection.name}")')]
                assert columns == [f.name for f in collection.fields]
    billing = next(db.path for db in made if db.url_env == "LUMEN_BILLING_URL")
    fks = _rows(billing, "PRAGMA foreign_key_list(invoices)")
    assert [(r[2], r[3], r[4]) for r in fks] == [("customers", "customer_id", "id")]
    assert "PRIMARY KEY" in create_table_sql(
        lumen.datasets_of("billing")[0], lumen.datasets_of("billing")[0].collections[0]
    )


def test_some_rows_belong_to_two_people(lumen: Manifest, tmp_path: Path) -> None:
    made = {db.url_env: db.path for db in prepare_databases(lumen, tmp_path, 200, seed=5)}
    accounts = dict(_rows(made["LUMEN_ACCOUNTS_URL"], "SELECT id, email FROM users"))
    customers = _rows(
        made["LUMEN_BILLING_URL"], "SELECT account_user_id, billing_email FROM customers"
    )
    shared = [c for c in customers if accounts[c[0]] != c[1]]
    assert 0 < len(shared) < len(customers) / 2  # an account opened by a colleague
    members = _rows(
        made["LUMEN_CONTENT_URL"],
        "SELECT tenant_id, count(DISTINCT email) FROM members GROUP BY tenant_id",
    )
    assert any(count > 1 for _, count in members)  # a workspace shared by colleagues
    every_email = [e for (e,) in _rows(made["LUMEN_ACCOUNTS_URL"], "SELECT email FROM users")]
    assert all(EXAMPLE_DOMAIN.search(e) for e in every_email)


def test_a_second_run_adds_nobody(lumen: Manifest, tmp_path: Path) -> None:
    first = prepare_databases(lumen, tmp_path, 50)
    second = prepare_databases(lumen, tmp_path, 500)
    assert not any(db.created for db in second)
    assert [db.rows for db in first] == [db.rows for db in second]
    accounts = next(db.path for db in second if db.url_env == "LUMEN_ACCOUNTS_URL")
    assert _rows(accounts, "SELECT count(*) FROM users") == [(50,)]


def test_a_foreign_database_is_left_alone(lumen: Manifest, tmp_path: Path) -> None:
    with contextlib.closing(sqlite3.connect(tmp_path / "accounts_db.db")) as conn:
        conn.execute("CREATE TABLE precious (x)")
    with pytest.raises(ConfigError, match="did not make"):
        prepare_databases(lumen, tmp_path, 20)


def test_find_example(tmp_path: Path) -> None:
    assert find_example([ROOT / "src" / "pledge"]) == ROOT / EXAMPLE
    with pytest.raises(ConfigError, match="--manifest"):
        find_example([tmp_path])


# --- the whole demo, as a user starts it ---------------------------------------------------------


class _Demo:
    def __init__(self, data_dir: Path | None, *, cwd: Path = ROOT, people: int = 300) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name in list(env):
            if name.startswith(("PLEDGE_", "LUMEN_")):
                del env[name]
        args = ["demo", "--port", str(self.port), "--people", str(people)]
        if data_dir is not None:
            args += ["--data-dir", str(data_dir)]
        self.process = subprocess.Popen(
            [*pledge_command(), *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def key(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                found = re.search(r"\b(plg_[a-z2-7]+_[A-Za-z0-9_-]+)", line)
                if found:
                    return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("no key printed:\n" + "".join(self.lines))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(30)


@pytest.fixture
def demo_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "demo-data"


def test_demo_starts_with_no_set_up(demo_dir: Path) -> None:
    demo = _Demo(demo_dir)
    try:
        key = demo.key()
        wait_for_health(demo.base, process=demo.process)
        headers = {"Authorization": f"Bearer {key}"}
        audit = httpx.get(f"{demo.base}/v1/audit", headers=headers)
        assert audit.status_code == 200
        assert audit.json()["events"]
        notice = httpx.get(f"{demo.base}/notices/general?lang=nb")
        assert notice.status_code == 200
        assert notice.headers["content-language"] == "nb"
        assert httpx.get(f"{demo.base}/privacy").status_code == 200
        output = "".join(demo.lines)
        for code in ("en", "nb", "nl", "de", "fr"):
            assert f"{demo.base}/notices/general?lang={code}" in output
        assert f"{demo.base}/docs" in output
        assert "curl" in output
    finally:
        assert demo.stop() == 0
    rows_before = {p.name: p.stat().st_size for p in (demo_dir / "demo").glob("*.db")}
    assert len(rows_before) == 7

    again = _Demo(demo_dir)  # the same folder: reused, a new key, the old one revoked
    try:
        new_key = again.key()
        wait_for_health(again.base, process=again.process)
        assert new_key != key
        assert httpx.get(f"{again.base}/v1/audit", headers=headers).status_code == 401
        new_headers = {"Authorization": f"Bearer {new_key}"}
        assert httpx.get(f"{again.base}/v1/audit", headers=new_headers).status_code == 200
        assert "reused" in "".join(again.lines)
    finally:
        assert again.stop() == 0
    users = demo_dir / "demo" / "accounts_db.db"
    assert _rows(users, "SELECT count(*) FROM users") == [(300,)]


# --- a person asks for their data in the demo, as a user starts it ----------------------------

_CODE = re.compile(r"^(\d{8})\r?$", re.MULTILINE)
_PRIVATE_FILES = ("pledge.db", "pledge.db-wal", "pledge.db-shm", "master.key", "audit-signing.key")


def _mails_to(outbox: Path, address: str) -> list[Message]:
    found = []
    for path in sorted(outbox.glob("*.eml")) if outbox.is_dir() else []:
        message = email.message_from_bytes(path.read_bytes())
        if address in str(message["To"]):
            found.append(message)
    return found


def _text(message: Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "utf-8")


def _until(what: str, find: Callable[[], Any], demo: _Demo, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        assert demo.process.poll() is None, "the demo exited:\n" + "".join(demo.lines)
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout} s:\n" + "".join(demo.lines))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.mark.browser
def test_a_person_gets_their_data_from_a_fresh_demo(browser: Any, tmp_path: Path) -> None:
    """`pledge demo` in an empty folder: ask in the privacy centre, verify, wait, download."""
    person = make_people(40, SEED)[0]
    demo = _Demo(None, cwd=tmp_path, people=40)
    data, page = tmp_path / "pledge-data", None
    try:
        demo.key()
        wait_for_health(demo.base, process=demo.process)
        # The data folder is the owner's only, and so are the database and the keys.
        assert _mode(data) == 0o700
        for name in _PRIVATE_FILES:
            assert _mode(data / name) == 0o600, name

        page = browser.new_page(locale="en-GB")
        page.goto(f"{demo.base}/privacy/requests?jurisdiction=eu&lang=en")
        page.get_by_label("Access to your personal data").check()
        page.get_by_label("Your e-mail address").fill(person.email)
        page.get_by_role("button", name="Send request").click()
        page.get_by_role("heading", name="Confirm your request").wait_for()

        def code() -> str | None:
            for message in reversed(_mails_to(data / "outbox", person.email)):
                found = _CODE.search(_text(message))
                if found:
                    return found.group(1)
            return None

        page.get_by_label("Code from the e-mail").fill(_until("code", code, demo))
        page.get_by_role("button", name="Confirm", exact=True).click()
        page.get_by_role("heading", name="Your request", exact=True).wait_for()

        def completed() -> bool:
            page.reload()
            return "Completed" in page.locator("main").inner_text()

        _until("completed request", completed, demo, timeout=120)
        link = re.escape(demo.base) + r"/privacy/requests/download/[A-Za-z0-9_-]+"

        def download_link() -> str | None:
            for message in _mails_to(data / "outbox", person.email):
                found = re.search(link, _text(message))
                if found:
                    return found.group(0)
            return None

        # The mailed link opens a page; its button spends the link and sends the zip.
        page.goto(_until("download link", download_link, demo))
        with page.expect_download() as info:
            page.get_by_role("button", name="Download the file").click()
        content = Path(info.value.path()).read_bytes()
    finally:
        if page is not None:
            page.close()
        assert demo.stop() == 0
    archive = zipfile.ZipFile(io.BytesIO(content))
    package = json.loads(archive.read("data.json"))
    users = [c for s in package["systems"] for c in s["collections"] if c["collection"] == "users"]
    assert [r["email"] for c in users for r in c["rows"]] == [person.email]
    assert person.last in archive.read("index.html").decode()
