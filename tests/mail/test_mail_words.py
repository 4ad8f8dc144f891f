"""Every mail kind, in every language, in both parts, reads as words: no msgid left in English,
no placeholder, no column path or key, no sentences run together. The erasure confirmation is
rendered from a real summary of a report over the example's datasets.
"""

from __future__ import annotations

import html as html_module
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from test_mail_compose import CONTEXTS, LANGS, TO, parts, reparse

from pledge.mail import OrgContact, compose
from pledge.mail.i18n import translations
from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.requests.report import CollectionErasure, ErasureReport
from pledge.requests.summary import summarise

sys.path.append(str(Path(__file__).parents[1] / "requests_flow"))
from flowsupport import wording_problems

LUMEN = Path(__file__).parents[2] / "examples" / "lumen" / "pledge.yaml"
MAIL_PO = Path(__file__).parents[2] / "src" / "pledge" / "mail" / "locales"


@cache
def lumen() -> Manifest:
    return load_manifest(LUMEN)


def erasure_context(lang: str) -> dict[str, Any]:
    """What the worker mails after an erasure that kept invoices (the example's datasets)."""
    report = ErasureReport(
        "completed",
        [
            CollectionErasure(
                "accounts",
                "accounts",
                "users",
                "mask",
                rows_found=1,
                rows_masked=1,
                fields_changed=3,
                fields=("email", "first_name", "password_hash"),
            ),
            CollectionErasure(
                "billing", "billing", "invoices", "none", rows_found=2, kept_fields=("total_cents",)
            ),
        ],
    )
    said = summarise(lumen(), report, lang)
    return {
        "reference": "R-2026-0001",
        "request_kind": "erasure",
        "erased": said.erased,
        "kept": said.kept,
    }


def samples(lang: str) -> dict[str, tuple[str, dict[str, Any]]]:
    found = {name: (name, context) for name, context in CONTEXTS.items()}
    found["request_completed (erasure)"] = ("request_completed", erasure_context(lang))
    return found


def english_sentences(lang: str) -> set[str]:
    """Msgids of three words or more that `lang` words differently: seen verbatim in a mail
    of that language, they are a string the catalog did not translate."""
    catalog = translations(lang)
    with (MAIL_PO / "en" / "LC_MESSAGES" / "mail.po").open("rb") as handle:
        ids = [m.id for m in read_po(handle) if isinstance(m.id, str) and m.id]
    return {i for i in ids if len(i.split()) >= 3 and "%(" not in i and catalog.gettext(i) != i}


def readable(html: str) -> str:
    """The HTML part as a reader sees it: tags gone, entities decoded."""
    return html_module.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<head>.*?</head>", "", html)))


STAFF_ALERTS = {"request_failed"}
"""Mails to the privacy team, not to the person: they name tables and columns, never values."""


@pytest.mark.parametrize("lang", LANGS)
def test_every_kind_reads_as_words_in_both_parts(lang: str, org: OrgContact) -> None:
    english = english_sentences(lang) if lang != "en" else set()
    problems = []
    for name, (kind, context) in samples(lang).items():
        text, html = parts(reparse(compose(kind, lang, context, TO, org)))
        assert text.strip() and "<p" in html, f"{name}: a part is empty"
        for label, said in (("text", " ".join(text.split())), ("html", readable(html))):
            said = " ".join(said.split())
            found = wording_problems(said)
            if kind in STAFF_ALERTS:  # quotes the planner's reasons (tables, columns) on purpose
                found = [p for p in found if not p.startswith(("path ", "raw "))]
            problems += [f"{name} {label}: {p}" for p in found]
            problems += [f"{name} {label}: in English: {s!r}" for s in english if s in said]
    assert not problems, f"{lang}:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", LANGS)
def test_the_erasure_mail_names_what_was_kept_why_and_until_when(
    lang: str, org: OrgContact
) -> None:
    manifest = lumen()
    rule = manifest.retention["billing"]
    text, _ = parts(reparse(compose("request_completed", lang, erasure_context(lang), TO, org)))
    flat = " ".join(text.split())
    assert manifest.text(rule.reason, lang) in flat  # why: the rule's own words
    assert manifest.text(manifest.systems["billing"].name, lang) in flat
    assert manifest.category("user.payment").name.text(lang, "en") in flat  # type: ignore[union-attr]
    for raw in ("total_cents", "billing/invoices", "password_hash", "user.payment"):
        assert raw not in text
