"""The built-in taxonomy data: complete translations, a closed tree and the right flags."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).resolve().parents[2] / "src" / "pledge" / "manifest" / "taxonomy_data"
KINDS = ("categories", "uses", "subjects", "groups")
LANGS = ("en", "nb", "nl", "de", "fr")
FLAGS = ("personal", "special", "sensitive")

# English names that are also the right word in another language (loanwords and cognates).
SAME_AS_ENGLISH = {"Name", "Patient", "Consultant"}
MAX_SAME_AS_ENGLISH = 5


@cache
def raw(kind: str) -> dict[str, Any]:
    text = (DATA / f"{kind}.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=yaml.CSafeLoader)
    assert isinstance(data, dict), f"{kind}.yaml must be a mapping"
    return data


def effective_flags(kind: str) -> dict[str, dict[str, bool]]:
    """Each key's flags after inheritance from its parent, as the loader computes them."""
    entries = raw(kind)
    flags: dict[str, dict[str, bool]] = {}
    for key in sorted(entries, key=lambda k: k.count(".")):
        parent = flags.get(key.rpartition(".")[0])
        defaults = parent or {"personal": True, "special": False, "sensitive": False}
        flags[key] = {flag: entries[key].get(flag, defaults[flag]) for flag in FLAGS}
    return flags


@pytest.mark.parametrize("kind", KINDS)
def test_entries_have_name_and_description_in_every_language(kind: str) -> None:
    entries = raw(kind)
    assert entries
    for key, entry in entries.items():
        assert isinstance(entry, dict), key
        assert set(entry) <= {"name", "description", *FLAGS}, key
        for field in ("name", "description"):
            texts = entry.get(field)
            assert isinstance(texts, dict), f"{kind}: {key}.{field}"
            assert tuple(sorted(texts)) == tuple(sorted(LANGS)), f"{kind}: {key}.{field}"
            for lang, text in texts.items():
                assert isinstance(text, str), f"{kind}: {key}.{field}.{lang}"
                assert text.strip() == text and text, f"{kind}: {key}.{field}.{lang}"
        for flag in FLAGS:
            assert isinstance(entry.get(flag, False), bool), f"{kind}: {key}.{flag}"


@pytest.mark.parametrize("kind", KINDS)
def test_every_parent_exists(kind: str) -> None:
    entries = raw(kind)
    orphans = [k for k in entries if "." in k and k.rpartition(".")[0] not in entries]
    assert orphans == []


def test_groups_are_flat() -> None:
    assert all("." not in key for key in raw("groups"))


@pytest.mark.parametrize("kind", KINDS)
def test_names_are_translated(kind: str) -> None:
    same = [
        (key, lang, entry["name"]["en"])
        for key, entry in raw(kind).items()
        for lang in LANGS[1:]
        if entry["name"][lang] == entry["name"]["en"] and entry["name"]["en"] not in SAME_AS_ENGLISH
    ]
    assert same == []
    allowed = [
        key
        for key, entry in raw(kind).items()
        if any(entry["name"][lang] == entry["name"]["en"] for lang in LANGS[1:])
    ]
    assert len(allowed) <= MAX_SAME_AS_ENGLISH


@pytest.mark.parametrize("kind", KINDS)
def test_descriptions_are_translated(kind: str) -> None:
    for key, entry in raw(kind).items():
        texts = entry["description"]
        assert len(set(texts.values())) == len(LANGS), f"{kind}: {key}"


def test_fideslang_keys_are_present() -> None:
    categories = raw("categories")
    for key in (
        "user",
        "system",
        "system.authentication",
        "system.operations",
        "user.contact.email",
        "user.contact.phone_number",
        "user.contact.address.street",
        "user.contact.address.postal_code",
        "user.device.ip_address",
        "user.device.cookie_id",
        "user.device.device_id",
        "user.name.first",
        "user.name.last",
        "user.location.precise",
        "user.location.imprecise",
        "user.financial.bank_account",
        "user.financial.credit_card",
        "user.government_id.passport_number",
        "user.unique_id.pseudonymous",
    ):
        assert key in categories, key
    uses = raw("uses")
    for key in (
        "analytics.reporting.system.performance",
        "essential.fraud_detection",
        "essential.legal_obligation",
        "essential.service.operations.support",
        "essential.service.payment_processing",
        "essential.service.security",
        "essential.service.notifications.email",
        "functional.service.improve",
        "functional.storage",
        "marketing.advertising.first_party.targeted",
        "marketing.advertising.third_party.targeted",
        "marketing.communications.email",
        "personalize.content",
        "third_party_sharing.legal_obligation",
        "train_ai_system",
    ):
        assert key in uses, key
    for key in ("customer", "customer_contact", "end_user", "employee", "job_applicant"):
        assert key in raw("subjects"), key
    for key in ("usage", "service_operations", "marketing", "security", "legal"):
        assert key in raw("groups"), key


def test_flags() -> None:
    flags = effective_flags("categories")
    special = {key for key, f in flags.items() if f["special"]}
    sensitive = {key for key, f in flags.items() if f["sensitive"]}
    for key in (
        "user.health_and_medical",
        "user.health_and_medical.genetic",
        "user.health",
        "user.biometric",
        "user.biometric.fingerprint",
        "user.biometrics",
        "user.demographic.political_opinion",
        "user.demographic.race_ethnicity",
        "user.demographic.religious_belief",
        "user.demographic.sexual_orientation",
        "user.demographic.union_membership",
        "user.criminal_history",
    ):
        assert key in special, key
    for key in (
        "user.government_id.passport_number",
        "user.authorization.password",
        "user.financial.credit_card",
        "user.location.precise",
        "user.content.private",
        "user.health.genetic",
        "user.biometric.voice",
    ):
        assert key in sensitive, key
    for key in ("user.contact.email", "user.name", "user.location.imprecise"):
        assert key not in special | sensitive, key
    for key, f in flags.items():
        assert f["personal"] is key.startswith("user"), key
        assert not (key.startswith("system") and (f["special"] or f["sensitive"])), key


def test_builtin_taxonomy_loads() -> None:
    from pledge.manifest.taxonomy import builtin_taxonomy

    taxonomy = builtin_taxonomy()
    for kind in KINDS:
        assert set(taxonomy.table(kind)) == set(raw(kind)), kind
    categories = taxonomy.categories
    assert categories["user.health_and_medical"].special
    assert categories["user.biometric"].special
    assert not categories["system.operations"].personal
    assert categories["user.contact.email"].personal
    assert categories["user.contact.email"].name.text("nb", "en") == "E-postadresse"
