"""Every name the manifest uses must be defined; a typo is reported where it is, with a fix."""

from __future__ import annotations

import pytest
from lintutil import Small, assert_at


def test_unmodified_fixture_has_no_findings(small: Small) -> None:
    result = small.check()
    assert result.ok
    assert result.findings == []


@pytest.mark.parametrize(
    ("old", "new", "needle", "hint"),
    [
        pytest.param(
            "user.name, user.contact.phone_number,",
            "user.name, user.contact.phone_numbr,",
            "user.contact.phone_numbr",
            "did you mean 'user.contact.phone_number'?",
            id="category-in-collects",
        ),
        pytest.param(
            "purposes: [marketing.communications.email]\n",
            "purposes: [marketing.communications.sms]\n",
            "marketing.communications.sms",
            "declare it under `purposes:` with a legal basis before using it",
            id="built-in-purpose-not-declared",
        ),
        pytest.param(
            "categories: [user.contact.email, user.name]",
            "categories: [user.contact.email, user.nmae]",
            "user.nmae",
            "did you mean 'user.name'?",
            id="role-category",
        ),
        pytest.param(
            "subjects: [customer_contact]",
            "subjects: [customer_contacts]",
            "customer_contacts",
            "did you mean 'customer_contact'?",
            id="system-subject",
        ),
        pytest.param(
            "recipients: [cloud_host]",
            "recipients: [cloud_hots]",
            "cloud_hots",
            "did you mean 'cloud_host'?",
            id="system-recipient",
        ),
        pytest.param(
            "retention: account\n",
            "retention: acount\n",
            "acount",
            "did you mean 'account'?",
            id="retention-rule",
        ),
        pytest.param(
            "connection: accounts_db",
            "connection: acounts_db",
            "acounts_db",
            "did you mean 'accounts_db'?",
            id="connection",
        ),
        pytest.param(
            "program: ceip",
            "program: research",
            "research",
            "define it under `programs:`",
            id="programme",
        ),
        pytest.param(
            "group: usage",
            "group: usgae",
            "usgae",
            "did you mean 'usage'?",
            id="purpose-group",
        ),
        pytest.param(
            "jurisdictions: [eu, us-ca, global]",
            "jurisdictions: [eu, us-cal, global]",
            "us-cal",
            "did you mean 'us-ca'?",
            id="manifest-jurisdiction",
        ),
        pytest.param(
            "default: {eu: opt_in,",
            "default: {europe: opt_in,",
            "europe",
            None,
            id="programme-default-jurisdiction",
        ),
        pytest.param(
            "{jurisdictions: [us-ca], verification: none}",
            "{jurisdictions: [california], verification: none}",
            "california",
            None,
            id="right-jurisdiction",
        ),
        pytest.param(
            "user.name: string_rewrite",
            "user.fullname: string_rewrite",
            "user.fullname",
            None,
            id="masking-category-key",
        ),
        pytest.param(
            "recipient: web_analytics",
            "recipient: webanalytics",
            "webanalytics",
            "did you mean 'web_analytics'?",
            id="tracker-recipient",
        ),
    ],
)
def test_undefined_reference_points_at_the_name(
    small: Small, old: str, new: str, needle: str, hint: str | None
) -> None:
    small.edit(old, new)
    finding = small.one("undefined-reference")
    assert_at(finding, small.loc(needle))
    assert f"'{needle}'" in finding.message
    if hint is not None:
        assert finding.hint is not None and finding.hint.startswith(hint)
    else:
        assert finding.hint


def test_undefined_category_in_dataset_is_reported_in_the_dataset_file(small: Small) -> None:
    small.edit("[user.contact.address.city]", "[user.contact.adress.city]", "datasets/accounts.yml")
    finding = small.one("undefined-reference")
    assert_at(finding, small.loc("user.contact.adress.city", "datasets/accounts.yml"))
    assert finding.hint == "did you mean 'user.contact.address.city'?"
    assert small.rules() == {"undefined-reference"}


def test_added_category_under_an_unknown_root_does_not_fit(small: Small) -> None:
    small.edit("  system.telemetry:\n", "  systm.telemetry:\n")
    small.edit(
        "[user.device.device_id, system.telemetry]", "[user.device.device_id, systm.telemetry]"
    )
    finding = small.one("unknown-parent")
    assert_at(finding, small.loc("systm.telemetry:"))
    assert finding.hint == "did you mean 'system'?"
    assert small.rules() == {"unknown-parent"}


def test_added_purpose_must_sit_under_a_built_in_root(small: Small) -> None:
    small.edit("  analytics.web:\n", "  web_stats.pages:\n")
    small.edit("purposes: [analytics.web]}", "purposes: [web_stats.pages]}")
    small.edit(
        "purposes: [analytics.web]\n    opt_out_url", "purposes: [web_stats.pages]\n    opt_out_url"
    )
    small.edit(
        "    purposes: [analytics.web]\n    countries: [US]\n    safeguard: dpf",
        "    purposes: [web_stats.pages]\n    countries: [US]\n    safeguard: dpf",
    )
    small.edit(
        "    purposes: [analytics.web]\n    countries: [US]\n    safeguard: scc",
        "    purposes: [web_stats.pages]\n    countries: [US]\n    safeguard: scc",
    )
    finding = small.one("unknown-parent")
    assert_at(finding, small.loc("web_stats.pages:"))
    assert small.rules() == {"unknown-parent"}


def test_new_flat_subjects_and_groups_are_welcome(small: Small) -> None:
    small.edit("  forum_member:\n", "  forum_member:\n    name: {en: A, nb: B}\n  x_members:\n")
    assert small.check().findings == []
