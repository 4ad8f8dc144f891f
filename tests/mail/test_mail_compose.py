"""Composition: every kind in every language, with contact, headers, escaping and errors."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from pledge.mail import KINDS, MailError, OrgContact, add_unsubscribe, compose, compose_marketing
from pledge.mail.i18n import resolve_language

LANGS = ("en", "nb", "nl", "de", "fr")
TO = "ada@example.org"

CONTEXTS: dict[str, dict[str, Any]] = {
    "request_received": {
        "reference": "R-2026-0001",
        "request_kind": "access",
        "received": date(2026, 11, 23),
        "deadline": date(2026, 12, 23),
        "status_url": "https://lumen.example/privacy/requests/R-2026-0001",
        "verification_pending": True,
    },
    "verification_code": {"reference": "R-2026-0001", "code": "483920", "valid_minutes": 15},
    "request_extended": {
        "reference": "R-2026-0001",
        "request_kind": "erasure",
        "deadline": date(2027, 2, 23),
        "reasons": ["The request covers twelve systems, three of them archived."],
    },
    "request_completed": {
        "reference": "R-2026-0001",
        "request_kind": "access",
        "download_url": "https://lumen.example/privacy/download/tok123",
        "download_expires": datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        "notes": ["Invoices are kept for five years because the law requires it."],
    },
    "request_denied": {
        "reference": "R-2026-0001",
        "request_kind": "rectification",
        "reasons": ["We could not confirm your identity."],
        "authority_name": "Datatilsynet",
        "authority_url": "https://www.datatilsynet.no/",
    },
    "request_forwarded": {
        "reference": "R-2026-0001",
        "request_kind": "erasure",
        "system": "Hosted analytics",
        "customer": "Acme AS",
        "received": date(2026, 11, 23),
    },
    "request_referred": {
        "reference": "R-2026-0001",
        "request_kind": "access",
        "controller": "Acme AS",
        "controller_email": "privacy@acme.example",
        "controller_url": "https://acme.example/privacy",
    },
    "request_reminder": {
        "reference": "R-2026-0001",
        "request_kind": "erasure",
        "request_state": "in_progress",
        "sla": "overdue",
        "deadline": date(2026, 12, 23),
        "received": datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
    },
    "request_failed": {
        "reference": "R-2026-0001",
        "request_kind": "erasure",
        "reasons": ["shop.users.name: aes_encrypt is not supported"],
    },
    "request_delayed": {
        "reference": "R-2026-0001",
        "request_kind": "erasure",
        "deadline": date(2026, 12, 23),
    },
    "complaint_received": {
        "reference": "C-2026-0007",
        "deadline": date(2026, 12, 23),
        "dispute_name": "Example Dispute Resolution",
        "dispute_url": "https://disputes.example",
        "authority_name": "Autoriteit Persoonsgegevens",
    },
    "notice_changed": {
        "notice_title": "Products and Services Privacy Notice",
        "effective": date(2027, 1, 1),
        "notice_url": "https://lumen.example/notices/products-and-services",
        "changes": ["A new recipient: Example Cloud (hosting, US and IE)."],
        "choices_url": "https://lumen.example/privacy/choices",
    },
    "marketing": {
        "subject": "What is new at Lumen",
        "paragraphs": ["Lumen 5 is out."],
        "unsubscribe_url": "https://lumen.example/u/signed-token",
    },
}

# Words that must appear in the localised subject, so a missing catalog cannot go unnoticed.
SUBJECT_WORDS = {
    ("request_received", "en"): "received",
    ("request_received", "nb"): "mottatt",
    ("request_received", "nl"): "ontvangen",
    ("request_received", "de"): "erhalten",
    ("request_received", "fr"): "reçu",
    ("verification_code", "nb"): "Bekreft",
    ("verification_code", "nl"): "Bevestig",
    ("verification_code", "de"): "Bestätigen",
    ("verification_code", "fr"): "Confirmez",
    ("request_reminder", "en"): "Overdue",
    ("request_reminder", "nb"): "Forfalt",
    ("request_reminder", "nl"): "Te laat",
    ("request_reminder", "de"): "Überfällig",
    ("request_reminder", "fr"): "En retard",
    ("request_delayed", "nb"): "forsinket",
    ("request_delayed", "nl"): "vertraagd",
    ("request_delayed", "de"): "verzögert",
    ("request_delayed", "fr"): "retardée",
}


def parts(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def reparse(msg: EmailMessage) -> EmailMessage:
    """What a receiver sees: the message as bytes on the wire, parsed again."""
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_every_kind_has_a_sample_context() -> None:
    assert set(CONTEXTS) == set(KINDS)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", sorted(CONTEXTS))
def test_every_kind_renders_in_every_language(kind: str, lang: str, org: OrgContact) -> None:
    msg = reparse(compose(kind, lang, CONTEXTS[kind], TO, org))
    text, html = parts(msg)
    assert msg["To"] == TO
    assert msg["From"].addresses[0].addr_spec == "privacy@lumen.example"
    assert msg["From"].addresses[0].display_name == "Lumen Systems, Inc."
    assert msg["Content-Language"] == lang
    assert re.fullmatch(r"<[^<>@\s]+@lumen\.example>", msg["Message-ID"])
    assert msg["Date"].datetime.tzinfo is not None
    assert msg["Subject"].strip()
    for body in (text, html):
        # the organisation's privacy contact is in every mail (P-S20)
        assert "privacy@lumen.example" in body
        assert "Springfield, CA 94000, USA" in body
        assert "dpo@lumen.example" in body
        # no template or format leftovers
        assert "%(" not in body and "{{" not in body and "{%" not in body
    assert f'<html lang="{lang}">' in html
    assert "<img" not in html and "src=" not in html  # no tracking pixels, no remote content


@pytest.mark.parametrize(("kind", "lang"), sorted(SUBJECT_WORDS))
def test_subjects_are_localised(kind: str, lang: str, org: OrgContact) -> None:
    msg = compose(kind, lang, CONTEXTS[kind], TO, org)
    assert SUBJECT_WORDS[(kind, lang)] in msg["Subject"]
    assert "R-2026-0001" in msg["Subject"]


def test_body_facts_are_localised_with_dates_in_the_readers_format(org: OrgContact) -> None:
    text_nb, _ = parts(compose("request_received", "nb", CONTEXTS["request_received"], TO, org))
    assert "Forespørsel: Innsyn i personopplysningene dine" in text_nb
    assert "23. desember 2026" in text_nb
    text_de, _ = parts(compose("request_received", "de", CONTEXTS["request_received"], TO, org))
    assert "23. Dezember 2026" in text_de
    text_fr, _ = parts(compose("request_received", "fr", CONTEXTS["request_received"], TO, org))
    assert "Demande\u00a0: Accès à vos données personnelles" in text_fr


def test_verification_code_plural_follows_the_language(org: OrgContact) -> None:
    one = dict(CONTEXTS["verification_code"], valid_minutes=1)
    many = CONTEXTS["verification_code"]
    assert "valid for 1 minute." in parts(compose("verification_code", "en", one, TO, org))[0]
    assert "gyldig i 15 minutter." in parts(compose("verification_code", "nb", many, TO, org))[0]
    assert "valable 1 minute." in parts(compose("verification_code", "fr", one, TO, org))[0]


def test_context_values_are_escaped_in_html_and_kept_in_text(org: OrgContact) -> None:
    evil = '<script>alert("x")</script> & <b>'
    context = dict(CONTEXTS["request_denied"], reasons=[evil], authority_name=evil)
    hostile_org = OrgContact(name='Evil "<Org>"', email="privacy@lumen.example")
    text, html = parts(compose("request_denied", "en", context, TO, hostile_org))
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;" in html
    assert "Evil &#34;&lt;Org&gt;&#34;" in html
    assert evil in text


def test_links_must_be_absolute_http_urls(org: OrgContact) -> None:
    context = dict(CONTEXTS["request_received"], status_url="javascript:alert(1)")
    with pytest.raises(MailError, match=r"status_url.*absolute http"):
        compose("request_received", "en", context, TO, org)


def test_transactional_mail_is_marked_auto_generated_and_has_no_unsubscribe(
    org: OrgContact,
) -> None:
    msg = compose("request_completed", "en", CONTEXTS["request_completed"], TO, org)
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Unsubscribe"] is None


def test_marketing_has_rfc8058_one_click_headers(org: OrgContact) -> None:
    msg = reparse(
        compose_marketing(
            "nl",
            TO,
            org,
            subject="Nieuws van Lumen",
            paragraphs=["Lumen 5 is uit."],
            unsubscribe_url="https://lumen.example/u/signed-token",
        )
    )
    assert msg["List-Unsubscribe"] == (
        "<https://lumen.example/u/signed-token>, <mailto:privacy@lumen.example?subject=unsubscribe>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Auto-Submitted"] is None
    assert msg["Subject"] == "Nieuws van Lumen"
    text, html = parts(msg)
    assert "Met één klik afmelden" in text
    assert 'href="https://lumen.example/u/signed-token"' in html


def test_add_unsubscribe_refuses_plain_http_except_on_loopback(org: OrgContact) -> None:
    msg = compose("notice_changed", "en", CONTEXTS["notice_changed"], TO, org)
    with pytest.raises(MailError, match="https"):
        add_unsubscribe(msg, "http://lumen.example/u/x")
    add_unsubscribe(msg, "http://127.0.0.1:8000/u/x", "mailto:u@lumen.example")
    add_unsubscribe(msg, "https://lumen.example/u/y")  # replaces, never duplicates
    assert msg.get_all("List-Unsubscribe") == ["<https://lumen.example/u/y>"]


@pytest.mark.parametrize(
    ("context_change", "match"),
    [
        ({"reference": None}, "missing reference"),
        ({"colour": "red"}, "unknown context keys colour"),
        ({"deadline": "next week"}, "deadline.*date"),
        ({"request_kind": "telepathy"}, "request_kind.*one of"),
        ({"verification_pending": "yes"}, "true or false"),
    ],
)
def test_bad_context_is_a_clear_error(
    context_change: dict[str, Any], match: str, org: OrgContact
) -> None:
    context = dict(CONTEXTS["request_received"], **context_change)
    with pytest.raises(MailError, match=match):
        compose("request_received", "en", context, TO, org)


def test_unknown_kind_lists_the_known_ones(org: OrgContact) -> None:
    with pytest.raises(MailError, match=r"unknown mail kind 'hello'.*request_received"):
        compose("hello", "en", {}, TO, org)


@pytest.mark.parametrize("bad", ["not-an-address", "a@b@c", "ada@example.org\r\nBcc: x@y.z"])
def test_a_bad_recipient_is_refused_without_repeating_it(bad: str, org: OrgContact) -> None:
    with pytest.raises(MailError) as caught:
        compose("verification_code", "en", CONTEXTS["verification_code"], bad, org)
    assert "recipient" in str(caught.value)
    assert bad.split("\r")[0] not in str(caught.value)


def test_an_organisation_without_e_mail_needs_a_sender() -> None:
    org = OrgContact(name="Lumen", postal="1 Example Way")
    with pytest.raises(MailError, match=r"organization\.contact\.email"):
        compose("verification_code", "en", CONTEXTS["verification_code"], TO, org)
    msg = compose(
        "verification_code", "en", CONTEXTS["verification_code"], TO, org, sender="no-reply@l.ex"
    )
    assert msg["From"].addresses[0].addr_spec == "no-reply@l.ex"


def test_sender_other_than_contact_sets_reply_to(org: OrgContact) -> None:
    msg = compose(
        "verification_code",
        "en",
        CONTEXTS["verification_code"],
        TO,
        org,
        sender="no-reply@lumen.example",
    )
    assert msg["Reply-To"].addresses[0].addr_spec == "privacy@lumen.example"


@pytest.mark.parametrize(
    ("asked", "used"),
    [("nb-NO", "nb"), ("no", "nb"), ("de_AT", "de"), ("FR", "fr"), ("sv", "en"), (None, "en")],
)
def test_language_variants_and_unknown_languages(asked: str | None, used: str) -> None:
    assert resolve_language(asked) == used


def test_text_lines_are_wrapped_without_breaking_links(org: OrgContact) -> None:
    long_url = "https://lumen.example/" + "x" * 120
    context = dict(CONTEXTS["request_received"], status_url=long_url)
    text, _ = parts(compose("request_received", "de", context, TO, org))
    assert long_url in text.splitlines()
    assert "-- " in text.splitlines()  # the signature delimiter keeps its space
    prose = [line for line in text.splitlines() if not line.startswith("http")]
    assert max(len(line) for line in prose) <= 78


def test_org_contact_from_manifest_resolves_the_language() -> None:
    from pledge.manifest.model import Manifest

    manifest = Manifest.model_validate(
        {
            "pledge": 1,
            "organization": {
                "name": "Lumen Systems, Inc.",
                "website": "https://lumen.example",
                "contact": {
                    "email": "privacy@lumen.example",
                    "postal": {"en": "1 Example Way", "nb": "Eksempelveien 1"},
                },
                "dpo": {"email": "dpo@lumen.example"},
            },
            "languages": ["en", "nb"],
        }
    )
    contact = OrgContact.from_manifest(manifest, "nb")
    assert contact.postal == "Eksempelveien 1"
    assert contact.url == "https://lumen.example"
    assert contact.dpo_email == "dpo@lumen.example"
    assert OrgContact.from_manifest(manifest, "fr").postal == "1 Example Way"
    assert OrgContact.from_dict(contact.to_dict()) == contact
