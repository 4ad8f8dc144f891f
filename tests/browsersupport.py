"""Helpers of the browser tests: headless Chromium under Playwright, and an app served by
uvicorn on loopback for it to visit.

Without /usr/bin/chromium the tests are skipped — or fail, with PLEDGE_REQUIRE_SERVICES=1 as in
CI, after waiting PLEDGE_CHROMIUM_WAIT seconds (120) in case it is still being installed.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRED = os.environ.get("PLEDGE_REQUIRE_SERVICES") == "1"


def _wait_for_chromium() -> None:
    """Chromium may still be being installed: wait a while when it is required, else skip."""
    deadline = time.monotonic() + (
        float(os.environ.get("PLEDGE_CHROMIUM_WAIT", "120")) if REQUIRED else 0
    )
    while not CHROMIUM.exists():
        if time.monotonic() >= deadline:
            message = f"{CHROMIUM} is not installed (apt-get install chromium)"
            if REQUIRED:
                pytest.fail(message)
            pytest.skip(message)
        time.sleep(5)


def chromium() -> Iterator[Any]:
    """A running headless Chromium, closed afterwards: the body of a `browser` fixture."""
    _wait_for_chromium()
    if REQUIRED:
        import playwright.sync_api as sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        last: Exception | None = None
        for _ in range(3):  # a fresh install sometimes needs a second start
            try:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                break
            except Exception as exc:
                last = exc
                time.sleep(2)
        else:
            pytest.fail(f"Chromium did not start: {last}")
        yield browser
        browser.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """`app` served on 127.0.0.1:`port` in a thread while the block runs; gives its URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)
