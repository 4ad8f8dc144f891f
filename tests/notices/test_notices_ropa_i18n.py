"""The record of processing in the authority's language, and notices that promise only what
the manifest offers."""

from __future__ import annotations

import csv
import io

import pytest

from conftest import Edit
from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.notices.i18n import ropa_words
from pledge.notices.render import render_notice
from pledge.notices.ropa import CSV_COLUMNS, build_ropa, render


def english_headings() -> dict[str, str]:
    """Every fixed heading of the record, by a key that finds its translation."""
    en = ropa_words("en")
    found = {
        f"{table}.{k}": v
        for table in ("sections", "captions", "heads", "parties")
        for k, v in getattr(en, table).items()
    }
    found.update({"skip": en.skip, "title": str(en.title("")), "record": en.record})
    found.update({f"legal_bases.{k}": v for k, v in en.legal_bases.items()})
    return found


def translated(lang: str, key: str) -> str:
    words = ropa_words(lang)
    if key in ("skip", "record"):
        return str(getattr(words, key))
    if key == "title":
        return str(words.title(""))
    table, _, name = key.partition(".")
    return str(getattr(words, table)[name])


@pytest.mark.parametrize("lang", ["nb", "nl"])
def test_the_record_speaks_the_authoritys_language(tiny: Manifest, lang: str) -> None:
    record = build_ropa(tiny, lang)
    page = render(record, "html")
    checked = 0
    for key, english in english_headings().items():
        if translated(lang, key) == english:
            continue  # the word is the same in both languages ("System" in Norwegian)
        assert english not in page, f"{lang}: English heading {english!r} in the record"
        checked += 1
    assert checked > 20
    assert f'<html lang="{lang}">' in page
    header = next(csv.reader(io.StringIO(render(record, "csv"))))
    assert not set(header) & set(CSV_COLUMNS)
    phrases = [row.legal_basis_text for row in record.controller_rows]
    assert phrases and not any("Art. 6(1)" in p for p in phrases)


def test_english_stays_the_default(tiny: Manifest) -> None:
    record = build_ropa(tiny)
    page = render(record, "html")
    assert "<h2>Processing as controller</h2>" in page and 'lang="en"' in page
    assert next(csv.reader(io.StringIO(render(record, "csv")))) == list(CSV_COLUMNS)


def test_a_notice_promises_objection_and_deletion_only_where_offered(edit: Edit) -> None:
    path = edit("  objection: {verification: email}\n", "")
    edit("jurisdictions: [eu, us-ca]", "jurisdictions: [global]")
    edit("  erasure: {verification: email_and_account, identities: [email, customer_id]}\n", "")
    manifest = load_manifest(path, lint=False)
    page = render_notice(manifest, "general", "en")
    assert "where yours do not override ours. You can ask us how" in page
    assert "You may object at any time" not in page
    assert "You can ask us to delete your information" not in page
