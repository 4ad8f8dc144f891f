"""`pledge reload`: ask the running servers to reload the manifest (SIGHUP), and say how it went."""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pledge.cli.output import fail

if TYPE_CHECKING:
    from pledge.runtime.runfiles import ServerRecord


def reload(
    wait: Annotated[
        float, typer.Option("--wait", min=0.0, help="Seconds to wait for the outcome")
    ] = 15.0,
) -> None:
    """Reload the manifest of every server using this data folder (kept if it has errors)."""
    from pledge.config import get_settings
    from pledge.runtime.runfiles import live_servers, read_json

    settings = get_settings()
    servers = live_servers(settings)
    if not servers:
        fail(
            f"no Pledge server runs with the data folder {settings.data_dir}; "
            "start one with `pledge serve` (or set PLEDGE_DATA_DIR to its folder)",
            1,
        )
    before = {s.pid: read_json(s.status_file) for s in servers}
    sent_at = time.time()
    for server in servers:
        os.kill(server.pid, signal.SIGHUP)
        typer.echo(f"asked the server at {server.url} (pid {server.pid}) to reload", err=True)
    pending = list(servers)
    refused = False
    deadline = time.monotonic() + wait
    while pending and time.monotonic() < deadline:
        for server in list(pending):
            status = read_json(server.status_file)
            if _answered(status, before[server.pid], sent_at):
                assert status is not None
                refused |= not _report(server, status)
                pending.remove(server)
        time.sleep(0.1)
    for server in pending:
        typer.echo(
            f"{server.url}: no answer yet; its log (or GET /v1/manifest) says how it went",
            err=True,
        )
    if refused:
        raise typer.Exit(1)


def _answered(status: dict[str, Any] | None, before: dict[str, Any] | None, sent: float) -> bool:
    if status is None or status == before:
        return False
    try:
        return float(status.get("at", 0)) >= sent
    except (TypeError, ValueError):
        return False


def _report(server: ServerRecord, status: dict[str, Any]) -> bool:
    digest = str(status.get("digest", ""))[:12]
    if status.get("ok"):
        typer.echo(f"{server.url}: reloaded, manifest {digest} in force")
        return True
    typer.echo(f"{server.url}: reload refused, the manifest has errors; {digest} stays in force")
    for line in status.get("errors", []):
        typer.echo(f"  {line}")
    return False


def register(app: typer.Typer) -> None:
    app.command("reload")(reload)
