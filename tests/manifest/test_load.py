"""Loading bad input gives findings with a location and a way out, never a traceback."""

from __future__ import annotations

from pathlib import Path

from lintutil import Small, assert_at

from pledge.manifest.load import check

ACCOUNTS = "datasets/accounts.yml"


def test_duplicate_key_points_at_the_second_one(small: Small) -> None:
    small.edit("    retention: telemetry\n", "    retention: telemetry\n    retention: telemetry\n")
    finding = small.one("duplicate-key")
    assert_at(finding, small.loc("retention", within="telemetry\n    retention: telemetry"))
    line = small.loc("retention: telemetry").split(":")[-2]
    assert f"first defined at line {line}" in finding.message


def test_unknown_key_suggests_the_nearest_one(small: Small) -> None:
    small.edit("    retention: account\n", "    retension: account\n")
    finding = small.one("unknown-key")
    assert_at(finding, small.loc("retension"))
    assert finding.hint == "did you mean 'retention'?"


def test_wrong_type_says_what_is_expected(small: Small) -> None:
    small.edit("keep: P3Y", "keep: three years")
    finding = small.one("invalid-value")
    assert_at(finding, small.loc("three years"))
    assert "ISO 8601" in finding.message


def test_wrong_choice_suggests_the_nearest_one(small: Small) -> None:
    small.edit(
        "legal_basis: consent\n    withdrawal: [banner]",
        "legal_basis: concent\n    withdrawal: [banner]",
    )
    finding = small.one("invalid-value")
    assert_at(finding, small.loc("concent"))
    assert finding.hint == "did you mean 'consent'?"


def test_missing_required_key(small: Small) -> None:
    small.edit("    kind: advertising_partner\n", "")
    finding = small.one("missing-key")
    assert "'kind'" in finding.message
    assert_at(finding, small.loc("name: {en: Example Ads"))


def test_missing_manifest_is_unreadable(small: Small) -> None:
    result = check(small.root / "absent.yaml")
    assert result.unreadable and result.manifest is None
    [finding] = result.findings
    assert finding.rule == "file-not-readable" and "absent.yaml" in finding.message


def test_missing_dataset_file_is_reported_where_the_system_names_it(small: Small) -> None:
    (small.root / ACCOUNTS).unlink()
    finding = small.one("file-not-readable")
    assert_at(finding, small.loc(ACCOUNTS))
    assert not small.check().unreadable
    assert small.rules() == {"file-not-readable"}  # no follow-on errors about its contents


def test_dataset_not_in_fides_format(small: Small) -> None:
    (small.root / "datasets" / "hosted.yml").write_text("collections: []\n", encoding="utf-8")
    finding = small.one("dataset-format")
    assert_at(finding, f"{small.root / 'datasets' / 'hosted.yml'}:1:1")


def test_unknown_key_in_a_dataset_points_into_the_dataset(small: Small) -> None:
    """Fides ignores keys it does not know, so Pledge loads the dataset too, and warns."""
    small.edit(
        "data_categories: [user.contact.email]", "data_category: [user.contact.email]", ACCOUNTS
    )
    finding = small.one("dataset-unknown-key")
    assert_at(finding, small.loc("data_category:", ACCOUNTS), "warning")
    assert finding.hint == "did you mean 'data_categories'?"


def test_unknown_key_under_an_optional_section_suggests_the_nearest_one(small: Small) -> None:
    small.edit("identity: email", "identiy: email", ACCOUNTS)
    finding = small.one("dataset-unknown-key")
    assert_at(finding, small.loc("identiy", ACCOUNTS), "warning")
    assert finding.hint == "did you mean 'identity'?"


def test_malformed_yaml_is_located_and_unreadable(small: Small) -> None:
    small.edit("languages: [en, nb]\n", "languages: [en, nb\n")
    result = small.check()
    assert result.unreadable and result.manifest is None
    [finding] = result.findings
    assert finding.rule == "yaml-syntax"
    assert finding.location.line > 0 and finding.location.col > 0


def test_malformed_dataset_yaml_keeps_the_manifest(small: Small) -> None:
    small.edit("fides_key: hosted", "fides_key: [hosted", "datasets/hosted.yml")
    result = small.check()
    assert result.manifest is not None and not result.unreadable
    [finding] = result.findings
    assert finding.rule == "yaml-syntax"
    assert finding.location.file == str(small.root / "datasets" / "hosted.yml")


def test_syntax_error_at_end_without_newline_points_inside_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pledge.yaml"
    path.write_text("pledge: 1\nlanguages: [en")
    (finding,) = check(path).findings
    assert finding.rule == "yaml-syntax"
    assert (finding.location.line, finding.location.col) == (2, 15)
