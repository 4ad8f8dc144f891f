"""Fixtures of the runtime's tests: a store configured with no manifest (PLEDGE_MANIFEST unset,
as `pledge demo` and `pledge serve --manifest X` run), and the request tests' product.

The request workflow's helpers are reused, so its folder is put on the import path here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

_FLOW = str(Path(__file__).parents[1] / "requests_flow")
if _FLOW not in sys.path:
    sys.path.append(_FLOW)

import pytest  # noqa: E402
from flowsupport import FIXTURE, create_product  # noqa: E402

from pledge.config import Settings  # noqa: E402
from pledge.manifest_holder import ManifestHolder  # noqa: E402
from pledge.store.db import Store  # noqa: E402
from pledge.store.migrations import upgrade  # noqa: E402


@pytest.fixture
def product(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    folder = tmp_path / "product"
    folder.mkdir()
    env = create_product(folder)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def bare_store(db_url: str, tmp_path: Path, product: dict[str, str]) -> Iterator[Store]:
    """A migrated store whose settings name no manifest."""
    settings = Settings(
        data_dir=tmp_path / "data", database_url=db_url, public_url="https://privacy.example"
    )
    assert settings.manifest is None
    store = Store(settings)
    upgrade(store)
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture
def holder() -> ManifestHolder:
    return ManifestHolder(str(FIXTURE))
