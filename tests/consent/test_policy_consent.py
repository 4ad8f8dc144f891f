"""`policy.decide` across legal bases, programmes, restriction, objection and GPC."""

from __future__ import annotations

import pytest
from consentsupport import LUMEN

from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.policy import SubjectState, consent_tables, decide


@pytest.fixture(scope="module")
def lumen() -> Manifest:
    return load_manifest(LUMEN / "pledge.yaml", lint=False)


def test_contract_runs_without_consent(lumen: Manifest) -> None:
    made = decide(lumen, "essential.service.payment_processing", SubjectState())
    assert made.allowed and made.reason == "contract"


def test_consent_needs_a_recorded_yes(lumen: Manifest) -> None:
    purpose = "analytics.web"
    assert decide(lumen, purpose, SubjectState()).reason == "no_consent"
    assert decide(lumen, purpose, SubjectState(consents={purpose: True})).allowed
    refused = decide(lumen, purpose, SubjectState(consents={purpose: False}))
    assert not refused.allowed and refused.reason == "consent_refused_or_withdrawn"


def test_legitimate_interests_run_unless_objected(lumen: Manifest) -> None:
    purpose = "marketing.events"
    assert decide(lumen, purpose, SubjectState()).reason == "legitimate_interests"
    assert decide(lumen, purpose, SubjectState(objected=frozenset({purpose}))).reason == (
        "objection"
    )
    assert decide(lumen, purpose, SubjectState(objected=frozenset({"*"}))).reason == "objection"
    # an unsubscribe (a recorded no) is an objection to direct marketing
    assert not decide(lumen, purpose, SubjectState(consents={purpose: False})).allowed


def test_contract_survives_an_objection(lumen: Manifest) -> None:
    state = SubjectState(objected=frozenset({"*"}))
    assert decide(lumen, "essential.service.payment_processing", state).allowed


def test_restriction_stops_every_basis(lumen: Manifest) -> None:
    state = SubjectState(restricted=frozenset({"*"}), consents={"analytics.web": True})
    for purpose in ("essential.service.payment_processing", "analytics.web", "marketing.events"):
        assert decide(lumen, purpose, state).reason == "restricted"
    only = SubjectState(restricted=frozenset({"marketing.events"}))
    assert decide(lumen, "essential.service.operations", only).allowed


def test_programme_defaults_per_jurisdiction(lumen: Manifest) -> None:
    purpose = "analytics.product_improvement"  # needs ceip: eu opt_in, global opt_out
    assert decide(lumen, purpose, SubjectState(jurisdiction="eu")).reason == (
        "programme_not_joined"
    )
    assert decide(
        lumen, purpose, SubjectState(jurisdiction="eu", programmes={"ceip": True})
    ).allowed
    assert decide(lumen, purpose, SubjectState(jurisdiction="global")).allowed
    left = SubjectState(jurisdiction="global", programmes={"ceip": False})
    assert decide(lumen, purpose, left).reason == "programme_not_joined"


def test_gpc_opts_out_of_sharing_only_where_the_law_says(lumen: Manifest) -> None:
    purpose = "marketing.advertising.third_party.targeted"
    yes = {purpose: True}
    assert decide(lumen, purpose, SubjectState("us-ca", yes, gpc=True)).reason == "gpc_opt_out"
    assert decide(lumen, purpose, SubjectState("eu", yes, gpc=True)).allowed
    assert decide(
        lumen, "analytics.web", SubjectState("us-ca", {"analytics.web": True}, gpc=True)
    ).allowed
    assert purpose in consent_tables(lumen).sale_or_sharing


def test_unknown_purpose_is_denied(lumen: Manifest) -> None:
    assert decide(lumen, "no.such.purpose", SubjectState()).reason == "unknown_purpose"
