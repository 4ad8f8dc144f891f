"""The `pledge` command line: a thin face over the manifest, notices and services.

A command's module is imported only when that command runs (or its own `--help` is asked
for): `pledge --help` and `pledge check` must not pay for the database, the web service and
every other command (issue 12, item 7; `benchmarks/cli_bench.py` measures it). So the
top-level list lives here in `COMMANDS`, with each command's help line; every module that
defines `register(app)` must be named in it (`tests/test_cli_imports.py` checks that the list
and the modules agree).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "check": (
        ("check",),
        "Check a manifest: exit 0 when clean, 1 with errors, 2 when it cannot be read or parsed.",
    ),
    "demo": (
        ("demo",),
        "Run Pledge on the fictional Lumen Systems, with product databases of fictional people.",
    ),
    "diff": (
        ("diff",),
        "Compare two manifests: exit 0 (informational), 3 with --fail-on-material and a material\n"
        "change, 1 when a manifest is invalid, 2 when one cannot be read or parsed.",
    ),
    "dpv": (
        ("dpv",),
        "Print or write the processing the manifest declares as DPV JSON-LD (context embedded).",
    ),
    "gpc-json": (
        ("gpc",),
        "Print the gpc.json resource: whether Global Privacy Control is honoured, and since when.",
    ),
    "reload": (
        ("reload",),
        "Reload the manifest of every server using this data folder (kept if it has errors).",
    ),
    "ropa": (
        ("ropa",),
        "Print or write the Art. 30(1) controller record and the Art. 30(2) processor record.",
    ),
    "schema": (
        ("schema",),
        "Print the manifest format (format 1): JSON Schema, or the Markdown reference.",
    ),
    "serve": (
        ("serve",),
        "Run the service: API under /v1, notices under /notices, an embedded worker.",
    ),
    "worker": (
        ("worker",),
        "Run durable jobs; SIGTERM or Ctrl-C stops after the jobs in hand (twice: at once).",
    ),
    "audit": (("audit",), "The audit log and its proofs."),
    "consent": (
        ("consent",),
        "The consent log: import records from another tool, hash old device ids.",
    ),
    "db": (("db",), "Pledge's own database: migrate, inspect."),
    "keys": (("keys",), "API keys, the master key and the receipt key."),
    "notice": (
        ("notice", "notice_publish"),
        "Render privacy notices from the manifest (one notice, the whole site, or a form's).",
    ),
    "requests": (("requests",), "Data subject requests: enter, list, act."),
}
"""Command name → (modules under `pledge.cli` that register it, its help)."""

_LOADED: dict[str, Any] = {}


def load(name: str) -> Any:
    """The real click command `name`, its modules imported and registered (once)."""
    if name not in _LOADED:
        holder = typer.Typer()
        for module in COMMANDS[name][0]:
            importlib.import_module(f"{__name__}.{module}").register(holder)
        _LOADED[name] = typer.main.get_group(holder).commands[name]
    return _LOADED[name]


class _Placeholder(TyperCommand):
    """Stands for a command in the top-level help until it is run."""


class LazyGroup(TyperGroup):
    """The top-level group: placeholders for listing, the real command when one is run."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, (_, text) in COMMANDS.items():
            self.commands.setdefault(name, _Placeholder(name=name, help=text))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else None
        if isinstance(self.commands.get(name or ""), _Placeholder):
            self.commands[name or ""] = load(name or "")
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="pledge",
    cls=LazyGroup,
    help="Pledge: a privacy notice made executable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Pledge: a privacy notice made executable."""


def build() -> typer.Typer:
    """The app; its commands are imported when run (tests call it too)."""
    return app


def main() -> None:
    app()
