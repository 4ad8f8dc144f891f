"""A limit on the use of sensitive personal information (CCPA §1798.121) in `policy.decide`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.policy import (
    SENSITIVE,
    SubjectState,
    decide,
    limitable_sensitive_purposes,
    permitted_sensitive_use,
)

TESTS = Path(__file__).parents[1]
FLOW = TESTS / "requests_flow" / "fixtures" / "app" / "pledge.yaml"
LUMEN = TESTS.parent / "examples" / "lumen" / "pledge.yaml"
PROFILING = "personalize.content.profiled"  # collects precise location, a sensitive category


@pytest.fixture(scope="module")
def flow() -> Manifest:
    return load_manifest(FLOW)


@pytest.mark.parametrize(
    ("purpose", "permitted"),
    [
        ("essential.service.payment_processing", True),
        ("essential.fraud_detection", True),
        ("essential", True),
        ("functional.service.improve", True),
        ("essentially.marketing", False),
        ("functional.storage", False),
        ("marketing.advertising.profiling", False),
        ("analytics.reporting", False),
        (PROFILING, False),
    ],
)
def test_uses_the_law_permits_without_the_persons_say(purpose: str, permitted: bool) -> None:
    assert permitted_sensitive_use(purpose) is permitted


def test_only_purposes_using_sensitive_data_beyond_permitted_uses_are_limitable(
    flow: Manifest,
) -> None:
    # essential.service.operations uses the same precise location, but to run the service
    assert limitable_sensitive_purposes(flow) == {PROFILING}
    # Lumen uses sensitive data only to sign in, secure, pay and hold customer content.
    assert limitable_sensitive_purposes(load_manifest(LUMEN)) == frozenset()


def test_a_limit_denies_limitable_purposes_in_every_jurisdiction(flow: Manifest) -> None:
    for where in ("us-ca", "eu", "global"):
        consented = SubjectState(where, consents={PROFILING: True})
        assert decide(flow, PROFILING, consented).allowed
        limited = SubjectState(where, consents={PROFILING: True}, objected=frozenset({SENSITIVE}))
        decided = decide(flow, PROFILING, limited)
        assert (decided.allowed, decided.reason) == (False, "limited_use_of_sensitive_data")
        assert decide(flow, "essential.service.operations", limited).allowed
        # other purposes without sensitive data are untouched, as their own rules decide
        mail = "marketing.communications.email"
        mailing = SubjectState(where, {mail: True}, objected=limited.objected)
        assert decide(flow, mail, mailing).allowed
