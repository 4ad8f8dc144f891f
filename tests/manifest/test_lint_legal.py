"""Legal conditions: each promise has what the law needs before Pledge may act on it."""

from __future__ import annotations

from lintutil import Small, assert_at


def test_legitimate_interest_needs_its_balancing_summary(small: Small) -> None:
    small.edit(
        "    legitimate_interest: {en: Running the services customers bought., "
        "nb: Drive tjenestene kundene har kjøpt.}\n",
        "",
    )
    finding = small.one("legitimate-interest-summary")
    assert_at(finding, small.loc("legitimate_interests", within="essential.service.operations:"))
    assert "'essential.service.operations'" in finding.message
    assert small.rules() == {"legitimate-interest-summary"}


def test_consent_must_say_how_to_withdraw_it(small: Small) -> None:
    small.edit("    withdrawal: [banner]\n", "")
    finding = small.one("consent-withdrawal")
    assert_at(finding, small.loc("consent", within="analytics.web:"))
    assert small.rules() == {"consent-withdrawal"}


def test_consent_withdrawn_by_leaving_a_programme_is_enough(small: Small) -> None:
    small.edit("    withdrawal: [banner]\n", "    program: ceip\n")
    assert small.check().findings == []


def test_controller_system_keeping_personal_data_needs_retention(small: Small) -> None:
    small.edit("    retention: telemetry\n", "")
    finding = small.one("retention-missing")
    assert_at(finding, small.loc("telemetry:", within="systems:"))
    assert "user.device.device_id" in finding.message
    assert small.rules() == {"retention-missing"}


def test_transfer_to_a_country_without_adequacy_needs_a_safeguard(small: Small) -> None:
    small.edit("    safeguard: dpf\n", "")
    finding = small.one("transfer-safeguard")
    assert_at(finding, small.loc("US", within="web_analytics:"))
    assert "recipient 'web_analytics'" in finding.message
    assert small.rules() == {"transfer-safeguard"}


def test_adequacy_is_no_safeguard_for_a_country_without_it(small: Small) -> None:
    small.edit(
        "    countries: [US, IE]\n    safeguard: scc",
        "    countries: [US, IE]\n    safeguard: adequacy",
    )
    finding = small.one("transfer-safeguard")
    assert_at(finding, small.loc("US", within="cloud_host:"))
    assert "adequacy" in finding.message


def test_system_location_outside_adequacy_needs_a_safeguard(small: Small) -> None:
    small.edit(
        "    locations: [IE]\n    retention: telemetry",
        "    locations: [IE, IN]\n    retention: telemetry",
    )
    finding = small.one("transfer-safeguard")
    assert_at(finding, small.loc("IN]"))
    assert "system 'telemetry'" in finding.message


def test_transfers_are_not_checked_without_eu_or_uk_law(small: Small) -> None:
    small.edit("jurisdictions: [eu, us-ca, global]", "jurisdictions: [us-ca, global]")
    small.edit("    safeguard: dpf\n", "")
    small.edit("    jurisdictions: [eu, us-ca]\n", "    jurisdictions: [us-ca]\n")
    assert small.check().findings == []


def test_processor_system_must_name_its_controller(small: Small) -> None:
    small.edit(
        "    controller:\n      name: {en: Our customer, nb: Kunden vår}\n"
        "      contact_field: accounts.users.email\n",
        "",
    )
    finding = small.one("processor-controller")
    assert_at(finding, small.loc("processor", within="hosted_content:"))
    assert small.rules() == {"processor-controller"}


def test_marketing_is_never_necessary_for_a_contract(small: Small) -> None:
    small.edit(
        "    legal_basis: consent\n    withdrawal: [unsubscribe, preference_centre]",
        "    legal_basis: contract",
    )
    finding = small.one("marketing-contract")
    assert_at(finding, small.loc("contract"))
    assert small.rules() == {"marketing-contract"}


def test_special_category_needs_consent_or_an_article_9_condition(small: Small) -> None:
    small.edit(
        "[user.device.device_id, system.telemetry]",
        "[user.device.device_id, system.telemetry, user.biometric.fingerprint]",
    )
    finding = small.one("special-category-condition")
    assert_at(finding, small.loc("user.biometric.fingerprint"))
    assert "'analytics.product_improvement'" in finding.message
    assert small.rules() == {"special-category-condition"}


def test_special_category_with_a_condition_passes(small: Small) -> None:
    small.edit(
        "[user.device.device_id, system.telemetry]",
        "[user.device.device_id, system.telemetry, user.biometric.fingerprint]",
    )
    small.edit("    program: ceip\n", "    program: ceip\n    special_condition: employment\n")
    assert small.check().findings == []


def test_tracker_without_opt_out_or_consent_is_uncovered(small: Small) -> None:
    small.edit(
        "    purposes: [analytics.web]\n    opt_out_url: https://ads.example/opt-out\n",
        "    purposes: [essential.service.operations]\n",
    )
    finding = small.one("tracker-uncovered")
    assert_at(finding, small.loc("advertising", within="name: _ad"))
    assert "'_ad'" in finding.message
    assert small.rules() == {"tracker-uncovered"}


def test_tracker_of_a_programme_purpose_is_covered_by_leaving_the_programme(
    small: Small,
) -> None:
    small.edit(
        "    purposes: [analytics.web]\n    opt_out_url: https://ads.example/opt-out\n",
        "    purposes: [analytics.product_improvement]\n",
    )
    assert "tracker-uncovered" not in small.rules()


def test_tracker_whose_purpose_is_not_consent_based_is_uncovered(small: Small) -> None:
    small.edit(
        "category: analytics, duration: P13M, purposes: [analytics.web]",
        "category: analytics, duration: P13M, purposes: [essential.service.operations]",
    )
    finding = small.one("tracker-uncovered")
    assert_at(finding, small.loc("analytics, duration", within="name: _pa"))
    assert small.rules() == {"tracker-uncovered"}


def test_sharing_needs_the_california_opt_out(small: Small) -> None:
    small.edit("  opt_out_sale_sharing: {jurisdictions: [us-ca], verification: none}\n", "")
    finding = small.one("sale-without-opt-out")
    assert_at(finding, small.loc("sharing: true"))
    assert small.rules() == {"sale-without-opt-out"}


def test_opt_out_offered_elsewhere_does_not_count_for_california(small: Small) -> None:
    small.edit(
        "{jurisdictions: [us-ca], verification: none}", "{jurisdictions: [eu], verification: none}"
    )
    assert_at(small.one("sale-without-opt-out"), small.loc("sharing: true"))


def test_opt_out_without_jurisdictions_is_offered_where_the_law_grants_it(small: Small) -> None:
    small.edit("{jurisdictions: [us-ca], verification: none}", "{verification: none}")
    assert small.check().findings == []
