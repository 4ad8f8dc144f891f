"""The `pledge` command line: a thin face over the manifest, notices and services.

Every module in this package that defines `register(app)` adds its commands; a new command
group is a new module, with nothing to edit here.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

app = typer.Typer(
    name="pledge",
    help="Pledge: a privacy notice made executable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_registered = False


def build() -> typer.Typer:
    """The app with every command module registered (idempotent; tests call it too)."""
    global _registered
    if not _registered:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
            module = importlib.import_module(f"{__name__}.{info.name}")
            register = getattr(module, "register", None)
            if register is not None:
                register(app)
        _registered = True
    return app


def main() -> None:
    build()()
