"""Every human-facing text exists in each language the notices are published in."""

from __future__ import annotations

from lintutil import Small, assert_at


def test_text_missing_a_language_is_reported_where_it_is(small: Small) -> None:
    small.edit("{en: Privacy Notice, nb: Personvernerklæring}", "{en: Privacy Notice}")
    finding = small.one("missing-translation")
    assert_at(finding, small.loc("{en: Privacy Notice}"), "warning")
    assert "nb" in finding.message
    assert small.rules() == {"missing-translation"}


def test_plain_string_counts_as_the_first_language_only(small: Small) -> None:
    small.edit(
        "    controller:\n      name: {en: Our customer, nb: Kunden vår}\n",
        "    controller:\n      name: Our customer\n",
    )
    assert_at(small.one("missing-translation"), small.loc("Our customer"), "warning")


def test_every_missing_language_is_named_once_per_text(small: Small) -> None:
    small.edit("languages: [en, nb]", "languages: [en, nb, nl]")
    findings = small.findings("missing-translation")
    assert len(findings) == small.path.read_text(encoding="utf-8").count("nb: ")
    assert all("nl" in f.message and "nb" not in f.message for f in findings)


def test_text_in_a_language_the_manifest_does_not_publish(small: Small) -> None:
    small.edit(
        "{en: Privacy Notice, nb: Personvernerklæring}",
        "{en: Privacy Notice, nb: Personvernerklæring, de: Datenschutzhinweis}",
    )
    finding = small.one("undeclared-language")
    assert_at(finding, small.loc("de: Datenschutzhinweis"), "warning")
    assert small.rules() == {"undeclared-language"}
