"""The law, checked: the rights each jurisdiction's law makes a notice state, cookie consent in
the EU and UK, and the organisation's own law when `jurisdictions` says nothing."""

from __future__ import annotations

from lintutil import Small, assert_at


def test_an_eu_notice_without_objection_fails(small: Small) -> None:
    small.edit("  objection: {jurisdictions: [eu], verification: email}\n", "")
    finding = small.one("notice-right-missing")
    assert_at(finding, small.loc("[eu, us-ca]", within="notices:"))
    assert finding.message.startswith("GDPR (eu) grants the right `objection` (Art. 21)")
    assert "notice 'general' leaves it out" in finding.message
    assert small.rules() == {"notice-right-missing"}


def test_a_right_limited_to_other_jurisdictions_points_at_its_limit(small: Small) -> None:
    small.edit(
        "  objection: {jurisdictions: [eu], verification: email}",
        "  objection: {jurisdictions: [uk], verification: email}",
    )
    finding = small.one("notice-right-missing")
    assert_at(finding, small.loc("[uk]", within="objection:"))
    assert finding.hint == "add eu to `rights.objection.jurisdictions`"


def test_withdrawal_of_consent_is_owed_only_where_consent_is_relied_on(small: Small) -> None:
    small.edit("  withdraw_consent: {verification: none}\n", "")
    assert (
        "because purpose 'analytics.web' relies on consent"
        in small.one("notice-right-missing").message
    )
    for withdrawal in ("[banner]", "[unsubscribe, preference_centre]"):
        small.edit(
            f"    legal_basis: consent\n    withdrawal: {withdrawal}\n",
            "    legal_basis: legitimate_interests\n    legitimate_interest: Because.\n",
        )
    assert small.findings("notice-right-missing") == []


def test_california_needs_know_delete_and_correct(small: Small) -> None:
    small.edit("  rectification: {verification: email}\n", "")
    found = small.findings("notice-right-missing")
    assert {f.message.split(" grants")[0] for f in found} == {"GDPR (eu)", "CCPA/CPRA (us-ca)"}
    assert all("`rectification`" in f.message for f in found)


def test_california_limit_on_sensitive_data_used_beyond_the_service(small: Small) -> None:
    small.edit("  limit_sensitive: {jurisdictions: [us-ca], verification: email}\n", "")
    assert small.findings("notice-right-missing") == []  # no sensitive data used beyond it
    small.edit(
        "[user.device.device_id, system.telemetry]",
        "[user.device.device_id, system.telemetry, user.biometric.fingerprint]",
    )
    small.edit("    program: ceip\n", "    program: ceip\n    special_condition: employment\n")
    finding = small.one("notice-right-missing")
    assert finding.message.startswith("CCPA/CPRA (us-ca) grants the right `limit_sensitive`")
    assert "'user.biometric.fingerprint' is used for 'analytics.product_improvement'" in (
        finding.message
    )


def test_a_non_essential_cookie_in_the_eu_on_an_opt_out_is_a_warning(small: Small) -> None:
    small.edit(
        "    purposes: [analytics.web]\n    opt_out_url: https://ads.example/opt-out",
        "    purposes: [essential.service.operations]\n    opt_out_url: https://ads.example/opt-out",
    )
    finding = small.one("tracker-consent")
    assert_at(finding, small.loc("advertising", within="name: _ad"), "warning")
    assert "'_ad'" in finding.message and "ePrivacy Directive Art. 5(3)" in finding.message
    assert small.rules() == {"tracker-consent"}


def test_a_cookie_on_consent_or_an_eu_opt_in_programme_passes(small: Small) -> None:
    small.edit(
        "    purposes: [analytics.web]\n    opt_out_url: https://ads.example/opt-out",
        "    purposes: [analytics.product_improvement]\n    opt_out_url: https://ads.example/opt-out",
    )
    assert small.findings("tracker-consent") == []  # ceip is opt_in in the EU
    small.edit("default: {eu: opt_in, global: opt_out}", "default: {global: opt_out}")
    assert len(small.findings("tracker-consent")) == 1


NORWAY = """organization:
  name: Fjord AS
  contact:
    email: privacy@fjord.example
    postal: {en: "Kaigata 2, 5015 Bergen, Norway", nb: "Kaigata 2, 5015 Bergen, Norge"}
"""


def _norwegian(small: Small, jurisdictions: str = "") -> None:
    text = small.path.read_text(encoding="utf-8")
    start, end = text.index("organization:"), text.index("languages:")
    small.path.write_text(text[:start] + NORWAY + text[end:], encoding="utf-8")
    small.edit("jurisdictions: [eu, us-ca, global]\n", jurisdictions)
    small.edit("    jurisdictions: [eu, us-ca]\n", "")  # the notice follows the manifest


def test_a_norwegian_organisation_without_jurisdictions_gets_gdpr_checks(small: Small) -> None:
    _norwegian(small)
    assert small.check().manifest is not None
    assert small.check().manifest.jurisdictions == ("eu",)
    assert small.rules() == set()
    small.edit("    safeguard: dpf\n", "")  # the US transfer loses its safeguard
    finding = small.one("transfer-safeguard")
    assert "eu law applies" in finding.message
    assert finding.severity == "error"


def test_the_explicit_country_wins_over_the_address(small: Small) -> None:
    _norwegian(small)
    small.edit("  name: Fjord AS\n", "  name: Fjord AS\n  country: US-CA\n")
    result = small.check()
    assert result.manifest is not None and result.manifest.jurisdictions == ("us-ca",)


def test_nothing_saying_which_law_applies_is_a_warning_naming_the_unchecked_laws(
    small: Small,
) -> None:
    small.edit("jurisdictions: [eu, us-ca, global]\n", "")
    small.edit("    jurisdictions: [eu, us-ca]\n", "")
    finding = small.one("jurisdiction-unstated")
    assert finding.severity == "warning"
    assert "Pledge knows no law of US" in finding.message  # the address says USA, no state
    for law in ("GDPR (eu)", "UK GDPR (uk)", "revFADP (ch)", "CCPA/CPRA (us-ca)"):
        assert law in finding.message
    small.edit("    safeguard: dpf\n", "")
    assert small.findings("transfer-safeguard") == []  # unchecked, as the warning says


def test_jurisdictions_leaving_out_the_home_law_is_a_warning(small: Small) -> None:
    _norwegian(small, "jurisdictions: [us-ca, global]\n")
    finding = small.one("home-law-missing")
    assert_at(finding, small.loc("[us-ca, global]"), "warning")
    assert "established in NO (`organization.contact.postal`)" in finding.message
