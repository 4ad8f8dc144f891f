"""The runtime names the job handlers; the store, which keeps the registry, names none."""

from __future__ import annotations

from pathlib import Path

import pledge
from pledge.runtime.workers import HANDLER_MODULES, load_handler_modules
from pledge.store import jobs

SRC = Path(pledge.__file__).parent


def test_every_handlers_module_of_pledge_is_named() -> None:
    """A service that adds `handlers.py` adds it to the list, or its jobs would never run."""
    found = {f"pledge.{p.parent.name}.handlers" for p in SRC.glob("*/handlers.py")}
    assert set(HANDLER_MODULES) == found


def test_loading_them_registers_the_kinds_of_every_service() -> None:
    assert load_handler_modules() == list(HANDLER_MODULES)
    kinds = set(jobs.handlers())
    assert {"audit.checkpoint", "mail.send", "requests.execute"} <= kinds
