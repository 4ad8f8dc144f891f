"""The command line starts quickly: a command imports what it needs when it runs.

`pledge --help` and `pledge check` once imported the whole service (store, API, every
command); these tests keep the database and the web stack out of them, and keep the top-level
command table in `pledge.cli` in step with the command modules.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import pledge.cli
from pledge.cli import COMMANDS, load

LUMEN = Path(__file__).parents[1] / "examples" / "lumen" / "pledge.yaml"
HEAVY = ("pledge.store", "fastapi", "sqlalchemy", "starlette", "pledge.api", "pledge.requests")

PROBE = """
import sys
from pledge.cli import main
sys.argv = ["pledge", *sys.argv[1:]]
if len(sys.argv) > 1:
    try:
        main()
    except SystemExit:
        pass
heavy = {heavy!r}
print("LOADED:" + ",".join(m for m in heavy if m in sys.modules))
"""


def loaded(*args: str) -> list[str]:
    """Heavy modules in `sys.modules` after running `pledge *args` in a fresh interpreter."""
    code = PROBE.format(heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("LOADED:"))
    return [m for m in line.removeprefix("LOADED:").split(",") if m]


@pytest.mark.parametrize(
    "args",
    [(), ("--help",), ("check", str(LUMEN)), ("audit", "--help"), ("requests", "--help")],
    ids=["import", "help", "check", "audit-help", "requests-help"],
)
def test_the_command_line_does_not_import_the_service(args: tuple[str, ...]) -> None:
    assert loaded(*args) == []


def test_every_command_module_is_in_the_table() -> None:
    registering = {
        info.name
        for info in pkgutil.iter_modules(pledge.cli.__path__)
        if hasattr(__import__(f"pledge.cli.{info.name}", fromlist=["x"]), "register")
    }
    listed = {module for modules, _ in COMMANDS.values() for module in modules}
    assert registering == listed


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_shows_each_command_s_own_help(name: str) -> None:
    command = load(name)
    assert command.name == name
    assert command.help == COMMANDS[name][1]
