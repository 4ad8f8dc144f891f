"""Settings are read once and never written back; links default to the address served on;
the data folder, database and keys are the owner's only."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from pledge.config import DEFAULT_PUBLIC_URL, Settings, address_url, get_settings
from pledge.store.db import Store
from pledge.store.migrations import upgrade

SRC = Path(__file__).parents[2] / "src" / "pledge"
#: Writing the process environment: `os.environ[…] = `, `.update(`, `.setdefault(`, `putenv(`.
WRITES_ENV = re.compile(
    r"os\.environ\[[^\]]+\]\s*=(?!=)|os\.environ\.(update|setdefault|pop)\(|os\.putenv\("
)


def test_links_default_to_the_address_served_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().public_url == DEFAULT_PUBLIC_URL  # no server: a CLI command's links
    assert Settings().serving_at("127.0.0.1", 8765).public_url == "http://127.0.0.1:8765"
    assert Settings().serving_at("0.0.0.0", 80).public_url == "http://127.0.0.1:80"
    assert Settings().serving_at("::", 81).public_url == "http://[::1]:81"
    assert address_url("::1", 82) == "http://[::1]:82"
    monkeypatch.setenv("PLEDGE_PUBLIC_URL", "https://privacy.example.com")
    assert get_settings().serving_at("127.0.0.1", 8765).public_url == "https://privacy.example.com"


def test_given_settings_win_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLEDGE_DATA_DIR", str(tmp_path / "from-env"))
    settings = get_settings(data_dir=tmp_path / "given")
    assert settings.data_dir == tmp_path / "given"
    assert os.environ["PLEDGE_DATA_DIR"] == str(tmp_path / "from-env")


def test_no_module_writes_the_environment() -> None:
    writers = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted(SRC.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WRITES_ENV.search(line)
    ]
    assert writers == []
    assert WRITES_ENV.search('os.environ["PLEDGE_DATA_DIR"] = str(x)')  # the pattern bites


def test_a_new_store_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = Store(Settings(data_dir=tmp_path / "data"))
        upgrade(store)
        store.vault  # noqa: B018
        store.signer  # noqa: B018
        data = tmp_path / "data"
        files = [p for p in data.iterdir() if p.is_file()]
        assert {p.name for p in files} >= {"pledge.db", "master.key", "audit-signing.key"}
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        store.dispose()
    finally:
        os.umask(old)
