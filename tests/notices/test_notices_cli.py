"""`pledge notice`: one notice, the static site, a form's notice; bad input fails cleanly."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import pytest
from noticeutil import TINY, read_page
from typer.testing import CliRunner, Result

from pledge.cli import build

Edit = Callable[[str, str], Path]  # the `edit` fixture of conftest.py


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(build(), list(args), env=env)


def failed(result: Result) -> str:
    """The one error line of a failed command (and check that it failed cleanly)."""
    assert result.exit_code != 0, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def test_renders_the_first_notice_to_stdout() -> None:
    result = run("notice", "--manifest", str(TINY))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("<!doctype html>")
    assert "<h1>Fjordlight Privacy Notice</h1>" in result.stdout


@pytest.mark.parametrize(
    ("fmt", "start"), [("md", "# Cookieverklaring"), ("txt", "Cookieverklaring\n")]
)
def test_formats_and_languages(fmt: str, start: str) -> None:
    result = run("notice", "-m", str(TINY), "--id", "cookies", "--lang", "nl", "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(start)


def test_manifest_from_the_environment() -> None:
    result = run("notice", "--id", "app", "-f", "txt", env={"PLEDGE_MANIFEST": str(TINY)})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("App Privacy Notice\n")


def test_writes_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "notice.html"
    result = run("notice", "-m", str(TINY), "--lang", "nb", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert '<html lang="nb"' in target.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["notice.html"]


def test_builds_the_site(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = run("notice", "-m", str(TINY), "--all", "--output", str(site))
    assert result.exit_code == 0, result.stderr
    pages = sorted(str(p.relative_to(site)) for p in site.rglob("*.html"))
    expected = ["index.html"] + [
        f"{lang}/{page}.html"
        for lang in ("en", "nb", "nl")
        for page in ("app", "cookies", "general", "history", "index")
    ]
    assert pages == sorted(expected)
    assert read_page((site / "nl" / "general.html").read_text(encoding="utf-8")).lang == "nl"
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no staging folder left behind


def test_rebuilding_replaces_the_site(tmp_path: Path, edit: Edit) -> None:
    site = tmp_path / "site"
    assert run("notice", "-m", str(TINY), "--all", "-o", str(site)).exit_code == 0
    (site / "nb" / "stale.html").write_text("old", encoding="utf-8")
    manifest = edit("Fjordlight Privacy Notice", "Fjordlight Privacy Policy")
    assert run("notice", "-m", str(manifest), "--all", "-o", str(site)).exit_code == 0
    assert not (site / "nb" / "stale.html").exists()
    assert "Fjordlight Privacy Policy" in (site / "en" / "general.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", "tiny"]


def test_refuses_to_replace_a_folder_it_did_not_build(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me", encoding="utf-8")
    line = failed(run("notice", "-m", str(TINY), "--all", "-o", str(folder)))
    assert "refusing to replace" in line
    assert (folder / "precious.txt").read_text(encoding="utf-8") == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_all_needs_an_output_folder() -> None:
    assert "--output" in failed(run("notice", "-m", str(TINY), "--all"))


def test_collection_point() -> None:
    result = run("notice", "-m", str(TINY), "--collection-point", "orders", "--lang", "nl")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith('<aside class="pledge-jit" lang="nl" data-promises="S3"')
    assert 'href="nl/general.html"' in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--id", "nope"), "error: notice 'nope' is not declared in the manifest"),
        (("--lang", "fi"), "error: language 'fi' is not declared in the manifest (en, nb, nl)"),
        (("--collection-point", "nope"), "error: system 'nope' is not declared"),
    ],
)
def test_unknown_names_are_refused(args: tuple[str, ...], message: str) -> None:
    assert failed(run("notice", "-m", str(TINY), *args)).startswith(message)


def test_unknown_format_is_a_usage_error() -> None:
    result = run("notice", "-m", str(TINY), "--format", "pdf")
    assert result.exit_code == 2


def test_manifest_with_errors(edit: Edit, tmp_path: Path) -> None:
    manifest = edit(
        "legal_basis: contract\n  essential.service.security",
        "legal_basis: because\n  essential.service.security",
    )
    target = tmp_path / "out.html"
    line = failed(run("notice", "-m", str(manifest), "-o", str(target)))
    assert "the manifest has errors" in line and "legal_basis" in line and "pledge check" in line
    assert not target.exists()


def test_missing_manifest(tmp_path: Path) -> None:
    line = failed(run("notice", "-m", str(tmp_path / "absent.yaml")))
    assert "absent.yaml" in line


def test_unwritable_output_leaves_nothing(tmp_path: Path) -> None:
    line = failed(run("notice", "-m", str(TINY), "-o", str(tmp_path / "no" / "such" / "dir.html")))
    assert "cannot write" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert "cannot write" in failed(
            run("notice", "-m", str(TINY), "-o", str(folder / "x.html"))
        )
        assert "cannot write" in failed(
            run("notice", "-m", str(TINY), "--all", "-o", str(folder / "s"))
        )
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(stat.S_IRWXU)


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "notice.html"
    target.write_text("the published notice", encoding="utf-8")

    def broken(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    line = failed(run("notice", "-m", str(TINY), "-o", str(target)))
    assert "No space left on device" in line
    assert target.read_text(encoding="utf-8") == "the published notice"
    assert [p.name for p in tmp_path.iterdir()] == ["notice.html"]


def test_a_published_history_shows_in_the_notices(tiny_copy: Path, edit: Edit) -> None:
    from datetime import date, datetime

    from pledge.notices import versions

    versions.publish(tiny_copy, effective=date(2025, 1, 15), now=datetime(2025, 1, 1, tzinfo=UTC))
    edit("    countries: [IN]\n", "    countries: [IN, CA]\n")
    versions.publish(
        tiny_copy,
        effective=date(2025, 9, 1),
        force=True,
        now=datetime(2025, 8, 1, tzinfo=UTC),
    )
    result = run("notice", "-m", str(tiny_copy), "--lang", "nb", "-f", "txt")
    assert result.exit_code == 0, result.stderr
    assert "Sist endret: 1. september 2025" in result.stdout
    assert "Opplysninger overføres til et nytt land: Canada" in result.stdout
    site = tiny_copy.parent / "site"
    assert run("notice", "-m", str(tiny_copy), "--all", "-o", str(site)).exit_code == 0
    history = (site / "en" / "history.html").read_text(encoding="utf-8")
    assert "Version 2" in history and "Information goes to a further country: Canada" in history


def test_permission_denied_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the read-only test, for runs as root (simulated: the folder refuses new files)."""
    import tempfile

    def denied(*args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    line = failed(run("notice", "-m", str(TINY), "-o", str(tmp_path / "x.html")))
    assert line == f"error: cannot write {tmp_path / 'x.html'}: Permission denied"
    line = failed(run("notice", "-m", str(TINY), "--all", "-o", str(tmp_path / "site")))
    assert "cannot write the site" in line and "Permission denied" in line
    assert list(tmp_path.iterdir()) == []
