"""Which job handlers a worker of this installation runs.

The store defines the registry (`pledge.store.jobs.handler`) and knows no service; the
composition root names the modules that register into it, so the ground never imports the
floors above it. A new service with jobs adds its `handlers` module here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

HANDLER_MODULES = (
    "pledge.store.handlers",
    "pledge.mail.handlers",
    "pledge.requests.handlers",
)
"""The modules whose import registers Pledge's own job handlers."""


def load_handler_modules(extra: Iterable[str] = ()) -> list[str]:
    """Import Pledge's handler modules, and `extra` ones; returns their names."""
    names = [*HANDLER_MODULES, *extra]
    for name in names:
        importlib.import_module(name)
    return names
