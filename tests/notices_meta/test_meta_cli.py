"""The command line: `pledge ropa`, `pledge dpv`, `pledge gpc-json` and `pledge notice publish`."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from metautil import Edit
from typer.testing import CliRunner, Result

from pledge.cli import build
from pledge.notices import versions


def run(*args: str) -> Result:
    return CliRunner().invoke(build(), list(args))


def test_ropa_csv_on_stdout(manifest_path: Path) -> None:
    result = run("ropa", "--manifest", str(manifest_path))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["record"] for r in rows} == {"30(1)", "30(2)"}


@pytest.mark.parametrize(("fmt", "marker"), [("json", '"art30_1"'), ("html", "<caption>")])
def test_ropa_formats_to_a_file(manifest_path: Path, tmp_path: Path, fmt: str, marker: str) -> None:
    target = tmp_path / f"ropa.{fmt}"
    result = run("ropa", "-m", str(manifest_path), "--format", fmt, "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert marker in target.read_text(encoding="utf-8")


def test_ropa_in_a_declared_language(manifest_path: Path) -> None:
    result = run("ropa", "-m", str(manifest_path), "--lang", "nb", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["art30_1"][0]["system_name"] == "Kundekontoer"


def test_ropa_refuses_an_undeclared_language(manifest_path: Path) -> None:
    result = run("ropa", "-m", str(manifest_path), "--lang", "fi")
    assert result.exit_code == 1
    assert "error: language 'fi' is not declared in the manifest (en, nb)" in result.stderr


def test_manifest_with_errors_fails_every_command(manifest_path: Path, edit: Edit) -> None:
    edit("legal_basis: contract", "legal_basis: because")
    for command in ("ropa", "dpv", "gpc-json"):
        result = run(command, "--manifest", str(manifest_path))
        assert result.exit_code == 1, command
        assert result.stderr.startswith("error: ") and "the manifest has errors" in result.stderr
        assert "legal_basis" in result.stderr


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    result = run("dpv", "--manifest", str(tmp_path / "nowhere.yaml"))
    assert result.exit_code == 1
    assert "file not found" in result.stderr


@pytest.mark.parametrize("command", ["ropa", "dpv"])
def test_unwritable_output_is_a_clear_error(
    manifest_path: Path, tmp_path: Path, command: str
) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir" / "out.txt"
    result = run(command, "-m", str(manifest_path), "-o", str(missing_dir))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot write {missing_dir}")
    assert not missing_dir.parent.exists()

    a_directory = tmp_path / "taken"
    a_directory.mkdir()
    result = run(command, "-m", str(manifest_path), "-o", str(a_directory))
    assert result.exit_code == 1 and "cannot write" in result.stderr
    assert list(tmp_path.glob(".taken.*")) == []  # the temporary file is gone


def test_failed_write_leaves_the_old_file_whole(
    manifest_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ropa.csv"
    target.write_text("the previous record\n", encoding="utf-8")

    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(versions.os, "replace", failing_replace)
    result = run("ropa", "-m", str(manifest_path), "-o", str(target))

    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert target.read_text(encoding="utf-8") == "the previous record\n"
    assert sorted(os.listdir(tmp_path)) == sorted(["acme", "ropa.csv"])


def test_dpv_writes_json_ld(manifest_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "dpv.jsonld"
    result = run("dpv", "-m", str(manifest_path), "-o", str(target))
    assert result.exit_code == 0, result.output
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["@context"]["dpv"] == "https://w3id.org/dpv#"
    assert json.loads(run("dpv", "-m", str(manifest_path)).stdout) == document


def test_gpc_json(manifest_path: Path) -> None:
    result = run("gpc-json", "--manifest", str(manifest_path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"gpc": True, "lastUpdate": "2024-05-15"}


def test_written_files_are_readable_like_any_new_file(manifest_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "gpc-and-ropa.html"
    assert run("ropa", "-m", str(manifest_path), "-f", "html", "-o", str(target)).exit_code == 0
    mask = os.umask(0o022)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_notice_publish_prints_the_version(manifest_path: Path) -> None:
    result = run("notice", "publish", "--manifest", str(manifest_path))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("published version 1 (digest ")
    assert "material: no" in lines
    assert versions.load_history(manifest_path)[0].version == 1


def test_notice_publish_lists_changes_and_refuses_early_material_ones(
    manifest_path: Path, edit: Edit
) -> None:
    assert run("notice", "publish", "-m", str(manifest_path)).exit_code == 0
    edit("keep: P13M", "keep: P25M")

    refused = run("notice", "publish", "-m", str(manifest_path))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: 1 material change (Retention rule 'telemetry'")
    assert "earliest allowed date is" in refused.stderr
    assert len(versions.load_history(manifest_path)) == 1

    forced = run("notice", "publish", "-m", str(manifest_path), "--force")
    assert forced.exit_code == 0, forced.output
    assert "material: yes (notice period overridden with --force)" in forced.stdout
    assert "  ! Retention rule 'telemetry': P13M after collected → P25M after collected" in (
        forced.stdout
    )


def test_notice_publish_with_an_effective_date(manifest_path: Path, edit: Edit) -> None:
    assert run("notice", "publish", "-m", str(manifest_path)).exit_code == 0
    edit("keep: P13M", "keep: P25M")
    result = run("notice", "publish", "-m", str(manifest_path), "--effective", "2099-01-01")
    assert result.exit_code == 0, result.output
    assert "effective 2099-01-01" in result.stdout and "material: yes" in result.stdout


def test_notice_publish_refuses_an_unchanged_manifest(manifest_path: Path) -> None:
    assert run("notice", "publish", "-m", str(manifest_path)).exit_code == 0
    result = run("notice", "publish", "-m", str(manifest_path))
    assert result.exit_code == 1
    assert "nothing to publish" in result.stderr


def test_notice_publish_takes_the_manifest_from_the_group_too(manifest_path: Path) -> None:
    result = run("notice", "--manifest", str(manifest_path), "publish")
    assert result.exit_code == 0, result.output
    assert versions.history_path(manifest_path).exists()


def test_notice_publish_bad_input(manifest_path: Path, edit: Edit) -> None:
    bad_date = run("notice", "publish", "-m", str(manifest_path), "--effective", "1 March")
    assert bad_date.exit_code == 2 and "1 March" in bad_date.stderr
    versions.history_path(manifest_path).write_text("{", encoding="utf-8")
    corrupt = run("notice", "publish", "-m", str(manifest_path))
    assert corrupt.exit_code == 1 and "the notice history is corrupt" in corrupt.stderr
