"""Lint of what Fides' dataset format says that Pledge could not act on."""

from __future__ import annotations

from lintutil import Small, assert_at

ACCOUNTS = "datasets/accounts.yml"


def test_a_fides_strategy_pledge_cannot_apply_is_an_error_at_its_line(small: Small) -> None:
    small.edit(
        "masking: {strategy: hmac}",
        "masking_strategy_override: {strategy: pseudonymize}",
        ACCOUNTS,
    )
    finding = small.one("dataset-masking-unsupported")
    assert_at(finding, small.loc("pseudonymize", ACCOUNTS))
    assert "pseudonymize" in finding.message and "hmac" in (finding.hint or "")


def test_a_fides_strategy_pledge_applies_is_taken_as_the_fields_strategy(small: Small) -> None:
    small.edit("masking: {strategy: hmac}", "masking_strategy_override: {strategy: hmac}", ACCOUNTS)
    assert small.findings("dataset-masking-unsupported") == []
    assert small.findings("dataset-unknown-key") == []
