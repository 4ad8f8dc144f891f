"""`pledge check` in CI: exit codes, compiler-style lines and JSON for tools."""

from __future__ import annotations

import json

import pytest
from lintutil import Small
from typer.testing import CliRunner

from pledge.cli import build


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build(), ["check", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout, result.stderr


def test_clean_manifest_exits_0(small: Small) -> None:
    code, out, err = run(str(small.path))
    assert code == 0
    assert out == ""
    assert "0 errors, 0 warnings" in err


def test_errors_exit_1_with_one_compiler_style_line_each(small: Small) -> None:
    small.edit("recipients: [cloud_host]", "recipients: [cloud_hots]")
    code, out, _ = run(str(small.path))
    assert code == 1
    assert out.splitlines() == [
        f"{small.loc('cloud_hots')}: error undefined-reference recipient 'cloud_hots' is not "
        "defined under `recipients:` (did you mean 'cloud_host'?)"
    ]


def test_unparsable_yaml_exits_2(small: Small) -> None:
    small.edit("languages: [en, nb]", "languages: [en, nb")
    code, out, _ = run(str(small.path))
    assert code == 2
    assert "yaml-syntax" in out and "Traceback" not in out


def test_missing_manifest_exits_2(small: Small) -> None:
    code, out, _ = run(str(small.root / "nothing.yaml"))
    assert code == 2
    assert "file-not-readable" in out and "nothing.yaml" in out


def test_strict_fails_on_warnings(small: Small) -> None:
    small.edit("{en: Privacy Notice, nb: Personvernerklæring}", "{en: Privacy Notice}")
    assert run(str(small.path))[0] == 0
    code, out, _ = run("--strict", str(small.path))
    assert code == 1
    assert "warning missing-translation" in out


def test_json_format_is_valid_json_with_locations(small: Small) -> None:
    small.edit("    effective: 2024-05-01\n", "")
    code, out, _ = run("--format", "json", str(small.path))
    assert code == 1
    [finding] = json.loads(out)
    line, col = small.loc("general:", within="notices:").rsplit(":", 2)[1:]
    assert finding["file"] == str(small.path)
    assert (finding["line"], finding["col"]) == (int(line), int(col))
    assert finding["severity"] == "error"
    assert finding["rule"] == "notice-effective"
    assert "effective date" in finding["message"]


def test_manifest_from_environment(small: Small, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLEDGE_MANIFEST", str(small.path))
    assert run()[0] == 0
