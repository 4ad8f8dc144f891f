"""Each notice says whom it is for, what it covers and when it takes effect (P-S1, P-S2)."""

from __future__ import annotations

from lintutil import Small, assert_at


def test_notice_naming_an_unknown_system(small: Small) -> None:
    small.edit("systems: [accounts, telemetry]", "systems: [accounts, telemetri]")
    finding = small.one("notice-scope")
    assert_at(finding, small.loc("telemetri]"))
    assert finding.hint == "did you mean 'telemetry'?"
    assert small.rules() == {"notice-scope"}


def test_notice_for_an_unknown_audience(small: Small) -> None:
    small.edit("audience: [customer_contact, end_user]", "audience: [customer_contact, endusers]")
    finding = small.one("notice-scope")
    assert_at(finding, small.loc("endusers"))
    assert finding.hint == "did you mean 'end_user'?"


def test_notice_without_effective_date(small: Small) -> None:
    small.edit("    effective: 2024-05-01\n", "")
    finding = small.one("notice-effective")
    assert_at(finding, small.loc("general:", within="notices:"))
    assert small.rules() == {"notice-effective"}
