"""Notices say what the manifest declares, in every language, as tidy HTML, Markdown and text."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from noticeutil import promise_ids, read_page

from pledge.errors import NotFoundError
from pledge.manifest.lint.languages import texts
from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.notices import (
    build_view,
    render_collection_point,
    render_history,
    render_index,
    render_notice,
    render_view,
)
from pledge.notices.i18n import translations
from pledge.notices.site import site_pages
from pledge.notices.view import notice_scope
from pledge.policy import rights_offered

Edit = Callable[[str, str], Path]  # the `edit` fixture of conftest.py

# The English labels of rights, as the catalogs know them.
RIGHT_LABELS = {
    "access": "Access",
    "portability": "Data portability",
    "rectification": "Correction",
    "erasure": "Deletion",
    "restriction": "Restriction of processing",
    "objection": "Objection",
    "opt_out_sale_sharing": "Opt out of sale and sharing",
    "limit_sensitive": "Limit the use of sensitive information",
    "unsubscribe": "Unsubscribe from marketing",
    "withdraw_consent": "Withdraw consent",
    "complaint": "Complain",
}


def name_in(manifest: Manifest, kind: str, key: str, lang: str) -> str | None:
    """The taxonomy name a reader of `lang` should see (None for a key without a name)."""
    entry = manifest.taxonomy.table(kind).get(key)
    if entry is None or entry.name.plain == key:
        return None
    return entry.name.text(lang, "en" if entry.builtin else manifest.default_language)


def text_of(page_html: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page_html).split()))


def expected_names(manifest: Manifest, notice: str, lang: str) -> dict[str, str]:
    """Every purpose, category, recipient, tracker and right in the notice's scope, by label."""
    scope = notice_scope(manifest, notice)
    found: dict[str, str] = {}
    for kind, keys in (("uses", scope.purposes), ("categories", scope.categories)):
        for key in keys:
            name = name_in(manifest, kind, key, lang)
            if name is not None:
                found[f"{kind}:{key}"] = name
    for key in scope.recipients:
        found[f"recipient:{key}"] = manifest.text(manifest.recipients[key].name, lang)
    for tracker in scope.trackers:
        found[f"tracker:{tracker.name}"] = tracker.name
    view = build_view(manifest, notice)
    if any(s.key == "rights" for s in view.sections):
        for jurisdiction in scope.jurisdictions:
            for right in rights_offered(manifest, jurisdiction):
                found[f"right:{right}"] = translations(lang).gettext(RIGHT_LABELS[right])
    return found


def all_notices(manifest: Manifest) -> list[tuple[str, str]]:
    pairs = [(n, lang) for n in manifest.notices for lang in manifest.languages]
    assert pairs, "the manifest has no notices"  # the loops over them would check nothing
    return pairs


# --- completeness --------------------------------------------------------------------------------


def test_every_item_in_scope_appears_in_every_language(tiny: Manifest) -> None:
    for notice, lang in all_notices(tiny):
        for fmt in ("html", "md", "txt"):
            out = render_notice(tiny, notice, lang, fmt)
            text = " ".join((text_of(out) if fmt == "html" else out.replace("\\", "")).split())
            names = expected_names(tiny, notice, lang)
            assert names, f"{notice}: nothing in scope to look for"
            for what, label in names.items():
                assert " ".join(label.split()) in text, f"{notice}/{lang}/{fmt}: {what} {label!r}"


def test_every_item_of_the_example_appears_in_every_language(example: Manifest) -> None:
    for notice, lang in all_notices(example):
        text = text_of(render_notice(example, notice, lang))
        names = expected_names(example, notice, lang)
        assert names, f"{notice}: nothing in scope to look for"
        for what, label in names.items():
            assert " ".join(label.split()) in text, f"{notice}/{lang}: {what} {label!r}"


def test_every_promise_of_the_example_is_kept_somewhere(example: Manifest) -> None:
    found: set[str] = set()
    for page in site_pages(example).values():
        found |= read_page(page).promises
    promised = promise_ids()
    assert len(promised) >= 20, "docs/promises.md lists no promises"
    missing = [p for p in promised if p not in found]
    assert not missing, f"promises with no element in the rendered example: {missing}"


def test_scope_follows_the_notices_systems(tiny: Manifest) -> None:
    app = text_of(render_notice(tiny, "app", "en"))
    assert "Mobile app" in app
    assert "Orders" not in app  # the app notice names only the app system
    cookies = build_view(tiny, "cookies")
    assert [s.key for s in cookies.sections][:2] == ["scope", "cookies"]
    cookie_text = text_of(render_view(cookies, "nb"))
    for tracker in ("fl_session", "fl_lang", "fl_sdk"):
        assert tracker in cookie_text


# --- HTML quality --------------------------------------------------------------------------------


def pages_of(manifest: Manifest) -> dict[str, str]:
    pages = site_pages(manifest)
    assert len(pages) > len(manifest.languages), "the site has no notice pages"
    return pages


@pytest.mark.parametrize("which", ["tiny", "example"])
def test_pages_are_semantic(which: str, request: pytest.FixtureRequest) -> None:
    manifest: Manifest = request.getfixturevalue(which)
    for path, page_html in pages_of(manifest).items():
        page = read_page(page_html)
        lang = path.split("/")[0] if "/" in path else manifest.default_language
        assert page.lang == lang, path
        levels = [level for level, _ in page.headings]
        assert levels.count(1) == 1 and levels[0] == 1, f"{path}: one h1, first"
        for before, after in itertools.pairwise(levels):
            assert after <= before + 1, f"{path}: heading h{after} after h{before}"
        assert page.tables == page.captions, f"{path}: every table has a caption"
        assert page.th_without_scope == 0, f"{path}: every th has a scope"
        for link in page.links:
            if link.startswith("#"):
                assert link[1:] in page.ids, f"{path}: {link} points nowhere"
        assert "<script" not in page_html
        assert 'class="skip-link" href="#main"' in page_html
        assert "@media print" in page_html


def test_site_links_resolve(tiny: Manifest) -> None:
    pages = pages_of(tiny)
    for path, page_html in pages.items():
        folder = path.rpartition("/")[0]
        for link in read_page(page_html).links:
            if link.startswith(("#", "http", "mailto:")):
                continue
            target = link.split("#")[0]
            parts = [*folder.split("/"), *target.split("/")] if folder else target.split("/")
            resolved: list[str] = []
            for part in parts:
                if part == "..":
                    resolved.pop()
                elif part:
                    resolved.append(part)
            assert "/".join(resolved) in pages, f"{path}: {link}"


def test_language_switcher_on_every_page(tiny: Manifest) -> None:
    for path, page_html in pages_of(tiny).items():
        for lang in tiny.languages:
            assert f'hreflang="{lang}"' in page_html, path
    general_nb = pages_of(tiny)["nb/general.html"]
    assert 'href="../nl/general.html"' in general_nb
    assert 'aria-current="page" lang="nb"' in general_nb


# --- languages -----------------------------------------------------------------------------------


def manifest_texts(manifest: Manifest, lang: str) -> str:
    """All of the manifest's own prose in `lang`: it may use a word Pledge also uses in English."""
    found = [text.text(lang, manifest.default_language) for _, text in texts(manifest)]
    for table in ("categories", "uses", "subjects", "groups"):
        for entry in manifest.taxonomy.table(table).values():
            found.append(entry.name.text(lang, "en"))
    return " ".join(found)


def english_msgids(lang: str) -> list[str]:
    """Pledge's English strings whose translation differs, as literal pieces worth looking for."""
    catalog = translations(lang)
    from babel.messages.pofile import read_po
    from noticeutil import LOCALES

    with (LOCALES / "pledge.pot").open("rb") as handle:
        template = read_po(handle)
    pieces: list[str] = []
    for message in template:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        if catalog.gettext(msgid) == msgid:
            continue
        for piece in re.split(r"%\(\w+\)[sd]", msgid):
            piece = piece.strip(" :;,.–")
            if piece and (" " in piece or "%(" not in msgid):
                pieces.append(piece)
    return pieces


@pytest.mark.parametrize("lang", ["nb", "nl"])
@pytest.mark.parametrize("which", ["tiny", "example"])
def test_no_english_from_pledge_in_nb_and_nl(
    lang: str, which: str, request: pytest.FixtureRequest
) -> None:
    manifest: Manifest = request.getfixturevalue(which)
    own = manifest_texts(manifest, lang)
    pieces = [p for p in english_msgids(lang) if p not in own]
    assert len(pieces) > 200
    for path, page_html in pages_of(manifest).items():
        if not path.startswith(f"{lang}/"):
            continue
        text = read_page(page_html).own_text
        for piece in pieces:
            assert not re.search(rf"(?<!\w){re.escape(piece)}(?!\w)", text), f"{path}: {piece!r}"


def test_missing_text_falls_back_with_its_own_lang(tiny: Manifest) -> None:
    nb = render_notice(tiny, "general", "nb")
    assert '<span lang="en">Only when you tick the newsletter box.</span>' in nb
    assert '<span lang="en">Understand how the app is used</span>' in nb
    assert '<html lang="nb"' in nb
    page = read_page(nb)
    assert ("en", "Understand how the app is used") in page.foreign
    assert "Kaigata 2, 5015 Bergen" in page.own_text


def test_an_untranslated_title_is_marked_in_the_page_but_not_in_its_title(
    tiny: Manifest, edit: Edit
) -> None:
    changed = load_manifest(
        edit(
            "nb: Personvern i appen, nl: Privacyverklaring voor de app}",
            "nl: Privacyverklaring voor de app}",
        )
    )
    page = render_notice(changed, "app", "nb")
    assert "<title>App Privacy Notice – Fjordlight AS</title>" in page
    assert '<h1><span lang="en">App Privacy Notice</span></h1>' in page


def test_words_come_from_the_language(tiny: Manifest) -> None:
    nb = text_of(render_notice(tiny, "general", "nb"))
    assert "5 år etter at avtalen er avsluttet" in nb
    assert "13 måneder etter at vi har samlet dem inn" in nb
    assert "Vi svarer innen 1 måned" in nb
    assert "15. januar 2025" in nb
    nl = text_of(render_notice(tiny, "general", "nl"))
    assert "5 jaar na afloop van het contract" in nl
    assert "Verenigde Staten" in nl


def test_undeclared_language_and_unknown_notice_are_refused(tiny: Manifest) -> None:
    with pytest.raises(NotFoundError, match="language 'de' is not declared"):
        render_notice(tiny, "general", "de")
    with pytest.raises(NotFoundError, match="notice 'nope' is not declared"):
        render_notice(tiny, "nope", "en")
    with pytest.raises(NotFoundError, match="format 'pdf'"):
        render_notice(tiny, "general", "en", "pdf")


# --- what the sections say -----------------------------------------------------------------------


def section(page_html: str, key: str) -> str:
    match = re.search(
        rf'<section id="{key}".*?</section>\s*(?=<section id=|</article>)', page_html, re.S
    )
    assert match, f"no section {key}"
    return text_of(match.group(0))


def test_sections_carry_their_promises(tiny: Manifest) -> None:
    page = render_notice(tiny, "general", "en")
    promises = {
        m.group(1): set(m.group(2).split())
        for m in re.finditer(
            r'<section id="(\w+)" class="notice-section"[^>]*data-promises="([^"]*)"', page
        )
    }
    assert {"G1", "S4", "S5", "G3", "G11", "S3"} <= promises["collect"]
    assert {"G2", "S6", "S16", "G7", "S8", "S9"} <= promises["use"]
    assert {"G12", "S11", "S7"} <= promises["cookies"]
    assert {"G6", "S12"} <= promises["transfers"]
    assert {"G14", "S14"} <= promises["customer_content"]
    assert {"G8", "S15", "G7"} <= promises["rights"]
    assert {"G9", "S18", "G5"} <= promises["retention"]
    assert {"G10", "S13", "S10"} <= promises["security"]
    assert {"S17"} <= promises["california"]
    assert {"G13"} <= promises["links"]
    assert {"G16", "S19"} <= promises["changes"]
    assert {"G15", "S20"} <= promises["contact"]
    assert 'data-promises="S2 G16"' in page


def test_what_we_collect_by_source_with_required_flags(tiny: Manifest) -> None:
    text = section(render_notice(tiny, "general", "en"), "collect")
    for heading in (
        "Information you give us",
        "Information our products and services send us",
        "Information you make public",
    ):
        assert heading in text
    assert "Required" in text and "Optional" in text
    assert "We cannot deliver your order without an address." in text
    assert "App events" in text and "does not identify anyone" in text


def test_purposes_grouped_with_legal_basis_and_interest(tiny: Manifest) -> None:
    page = render_notice(tiny, "general", "en")
    text = section(page, "use")
    assert "Running our services" in text and "Improving our products" in text
    assert "Performing a contract with you or your organisation" in text
    assert "Keeping accounts safe from takeover." in text
    assert "the unsubscribe link in each e-mail or the e-mail preference centre" in text
    assert '<a href="#programs">App insights programme</a>' in page


def test_programme_defaults_and_how_to_change(tiny: Manifest) -> None:
    text = section(render_notice(tiny, "general", "en"), "programs")
    assert "In the European Economic Area: off until you join" in text
    assert "Everywhere else: on until you leave" in text
    assert "Switch it in the app under Settings." in text
    assert "Each user decides for themselves." in text


def test_cookie_table(tiny: Manifest) -> None:
    page = render_notice(tiny, "cookies", "en")
    table = re.search(r'<table class="cookie-table">.*?</table>', page, re.S)
    assert table and "<caption>" in table.group(0)
    text = section(page, "cookies")
    assert "Until you close your browser" in text
    assert "1 year" in text
    assert "Opt out of fl_lang" in text
    assert "Fjordlight AS (first party)" in text
    assert "block or delete cookies in the settings of your browser" in text


def test_no_selling_statement_only_when_nobody_buys(tiny: Manifest, edit: Edit) -> None:
    claim = "We do not sell or rent personal information"
    assert claim in render_notice(tiny, "general", "en")
    changed = load_manifest(edit("    countries: [NL]\n", "    countries: [NL]\n    sale: true\n"))
    page = render_notice(changed, "general", "en")
    assert claim not in page
    california = section(page, "california")
    assert "We sell personal information to: Example Payments." in california
    assert "You can opt out of the sale and sharing" in california


def test_transfers_with_safeguards(tiny: Manifest) -> None:
    text = section(render_notice(tiny, "general", "en"), "transfers")
    assert "India" in text and "Binding corporate rules" in text
    assert "Norway" in text and "Inside the European Economic Area" in text
    assert "United States" in text and "Standard contractual clauses" in text


def test_customer_content_and_whom_to_ask(tiny: Manifest) -> None:
    text = section(render_notice(tiny, "general", "en"), "customer_content")
    assert "Sellers' storefronts" in text
    assert "The seller you bought from" in text
    assert "ask the customer first" in text


def test_rights_per_jurisdiction(tiny: Manifest) -> None:
    text = section(render_notice(tiny, "general", "en"), "rights")
    assert "In the European Economic Area (GDPR)" in text
    assert "In California (CCPA/CPRA)" in text
    assert "We answer within 1 month. If a request is complex" in text
    assert "up to 2 months longer" in text
    assert "We answer within 45 days." in text
    assert "clearly unfounded or excessive" in text
    assert "your e-mail address or your customer number" in text
    assert "We confirm your e-mail address and your account" in text


def test_retention_and_backups(tiny: Manifest) -> None:
    text = section(render_notice(tiny, "general", "en"), "retention")
    assert "5 years after the contract ends" in text and "Bookkeeping law." in text
    assert "13 months after we collect it" in text and "Anonymised" in text
    assert "kept for at most 2 weeks" in text and "isolated from any further use" in text


def test_california_signals(tiny: Manifest) -> None:
    text = section(render_notice(tiny, "general", "en"), "california")
    assert "Global Privacy Control (GPC) signal, we treat it as a request to opt out" in text
    assert "Do Not Track signals have no agreed meaning" in text


def test_contact_dispute_resolution_and_authority(tiny: Manifest) -> None:
    page = render_notice(tiny, "general", "nb")
    text = section(page, "contact")
    assert "privacy@fjordlight.example" in text and "dpo@fjordlight.example" in text
    assert "Example Mediation" in text and "gratis" in text
    assert "Datatilsynet" in text
    assert 'href="mailto:privacy@fjordlight.example"' in page


# --- versions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeVersion:
    """A published version as `pledge.notices.versions` records it."""

    version: int
    effective: date
    published_at: datetime
    changes: tuple[dict[str, Any], ...] = field(default=())
    digest: str = "0" * 64


HISTORY = (
    FakeVersion(1, date(2025, 1, 15), datetime(2025, 1, 10, 9, 0)),
    FakeVersion(
        2,
        date(2025, 6, 1),
        datetime(2025, 4, 20, 9, 0),
        (
            {
                "kind": "purpose.added",
                "path": "purposes.marketing.communications.email",
                "summary": "New purpose 'marketing.communications.email'",
                "material": True,
                "after": "marketing.communications.email",
            },
            {
                "kind": "transfer.added",
                "path": "recipients.group_it.countries.IN",
                "summary": "x",
                "material": True,
                "after": "IN",
            },
            {
                "kind": "text.changed",
                "path": "notices.general.title",
                "summary": "Wording",
                "material": False,
            },
        ),
    ),
)


def test_revision_date_and_what_changed(tiny: Manifest) -> None:
    page = render_notice(tiny, "general", "nb", history=HISTORY)
    assert "Sist endret:" in text_of(page) and "1. juni 2025" in text_of(page)
    changes = section(page, "changes")
    assert "Nytt formål: Sende markedsføring på e-post" in changes
    assert "Opplysninger overføres til et nytt land: India" in changes
    assert "1 mindre endring i formuleringer eller innstillinger." in changes
    assert "New purpose" not in changes
    assert "6 uker" in changes  # the notice period, P6W


def test_without_history_the_revision_date_is_the_effective_date(tiny: Manifest) -> None:
    text = text_of(render_notice(tiny, "general", "en"))
    assert "Effective date: January 15, 2025" in text
    assert "Last revised: January 15, 2025" in text
    assert "What changed on" not in text


def test_history_page(tiny: Manifest) -> None:
    page = render_history(tiny, "nl", HISTORY)
    text = text_of(page)
    assert text.index("Versie 2") < text.index("Versie 1")
    assert "Nieuw doel" in text and "Eerste gepubliceerde versie." in text
    empty = text_of(render_history(tiny, "en", ()))
    assert "No versions have been recorded yet" in empty
    assert "Fjordlight Privacy Notice" in empty


def test_index_lists_every_notice_in_every_language(tiny: Manifest) -> None:
    page = render_index(tiny)
    assert tiny.notices
    for key in tiny.notices:
        for lang in tiny.languages:
            assert f'href="{lang}/{key}.html"' in page


# --- just-in-time notices ------------------------------------------------------------------------


def test_collection_point_fragment(tiny: Manifest) -> None:
    fragment = render_collection_point(tiny, "orders", "nb")
    assert fragment.startswith('<aside class="pledge-jit" lang="nb" data-promises="S3"')
    text = text_of(fragment)
    assert "Navn, E-postadresse og Adresse" in text
    assert "(påkrevd)" in text and "(valgfritt)" in text
    assert "Rettslig grunnlag: Oppfyllelse av en avtale" in text
    assert "Vi kan ikke levere bestillingen uten en adresse." in text
    assert 'href="nb/general.html"' in fragment
    linked = render_collection_point(
        tiny, "app", "en", base_url="https://fjordlight.example/privacy/"
    )
    assert 'href="https://fjordlight.example/privacy/en/general.html"' in linked
    with pytest.raises(NotFoundError, match="system 'nope'"):
        render_collection_point(tiny, "nope")


# --- Markdown and text ---------------------------------------------------------------------------


@pytest.mark.parametrize("notice", ["general", "cookies", "app"])
def test_markdown_is_tidy(tiny: Manifest, notice: str) -> None:
    md = render_notice(tiny, notice, "nb", "md")
    title = tiny.text(tiny.notices[notice].title, "nb")
    assert md.startswith(f"# {title}\n\n")
    assert md.endswith("\n") and not md.endswith("\n\n")
    assert "\n\n\n" not in md
    assert not re.search(r"</?(p|div|section|span|table)\b", md)
    view = build_view(tiny, notice)
    assert md.count("\n## ") == len(view.sections) + 1  # the contents, then each section
    for table in re.findall(r"\n\| .+ \|\n\|(?:---\|)+\n", md):
        assert table
    for bad in ("{{", "{%", "%(", "None", "Undefined"):
        assert bad not in md
    assert r"fl\_session" in md or notice == "app"


@pytest.mark.parametrize("notice", ["general", "cookies", "app"])
def test_plain_text_is_tidy(tiny: Manifest, notice: str) -> None:
    txt = render_notice(tiny, notice, "nl", "txt")
    lines = txt.splitlines()
    assert lines[1] == "=" * len(lines[0])
    assert not re.search(r"</?[a-z]+[ >]", txt)
    assert "\n\n\n" not in txt
    for line in lines:
        assert len(line) <= 78 or " " not in line.strip(), line
        assert line == line.rstrip()
    for bad in ("{{", "%(", "None", "**", "\\_"):
        assert bad not in txt


def test_example_renders_in_all_formats(example: Manifest) -> None:
    for notice, lang in all_notices(example):
        for fmt in ("md", "txt"):
            out = render_notice(example, notice, lang, fmt)
            assert out.strip() and "{{" not in out and "%(" not in out, (notice, lang, fmt)
