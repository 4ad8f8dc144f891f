"""The consent API: records with receipts, decisions, programmes, GPC, restriction, export."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from consentsupport import ConsentApi, _b64, verify_receipt
from cryptography.exceptions import InvalidSignature
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pledge.consent.limits import set_limit
from pledge.consent.programs import set_participation
from pledge.consent.service import service_for
from pledge.consent.subjects import of_device
from pledge.store.errors import StoreError


def post(capi: ConsentApi, body: dict[str, Any], **kw: Any) -> Any:
    return capi.client.post("/v1/consent", json={"language": "en", **body}, **kw)


def decision(capi: ConsentApi, subject: str, purpose: str, **params: str) -> dict[str, Any]:
    answer = capi.client.get(
        "/v1/consent/decision",
        params={"subject": subject, "purpose": purpose, **params},
        headers=capi.auth("service"),
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_choice_gets_a_receipt_that_verifies(capi: ConsentApi) -> None:
    made = post(
        capi,
        {"mechanism": "custom", "categories": {"analytics": True}},
        headers={"User-Agent": "TestBrowser/1.0"},
    )
    assert made.status_code == 201, made.text
    device = capi.client.cookies.get("pledge_device")
    assert device and made.json()["subject"] == of_device(capi.store.vault, device)
    assert device not in made.json()["subject"] and made.json()["made_by"] == "person"
    jwks = capi.client.get("/.well-known/jwks.json").json()
    claims = verify_receipt(made.json()["receipt"], jwks)
    assert claims["consentReceiptID"] == made.json()["id"]
    assert claims["choices"]["categories"] == {"analytics": True}
    assert claims["collectionMethod"] == "custom"
    assert claims["proof"]["ipPrefix"] == "testclient" or claims["proof"]["ipPrefix"] is None
    assert len(claims["proof"]["userAgentSha256"]) == 64
    # one changed character of the payload and the signature no longer verifies
    head, body, sig = made.json()["receipt"].split(".")
    forged = json.loads(_b64(body))
    forged["choices"]["categories"]["analytics"] = False
    tampered = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        verify_receipt(f"{head}.{tampered}.{sig}", jwks)


def test_state_is_derived_from_the_log_and_readable_with_the_cookie(capi: ConsentApi) -> None:
    post(capi, {"mechanism": "accept_all"})
    post(capi, {"mechanism": "withdrawal", "categories": {"analytics": False}})
    mine = capi.client.get("/v1/consent/me")
    assert mine.status_code == 200, mine.text
    data = mine.json()
    assert data["categories"]["analytics"] is False and data["categories"]["advertising"] is True
    assert data["purposes"]["analytics.web"] is False
    assert [r["mechanism"] for r in data["records"]] == ["accept_all", "withdrawal"]
    assert data["records"][0]["id"] < data["records"][1]["id"]  # time-ordered ids
    subject = data["subject"]
    capi.client.cookies.clear()
    assert capi.client.get(f"/v1/consent/{subject}").status_code == 401
    staff = capi.client.get(f"/v1/consent/{subject}", headers=capi.auth("auditor"))
    assert staff.status_code == 200 and len(staff.json()["records"]) == 2


def test_bad_choices_are_422_with_pointers(capi: ConsentApi) -> None:
    bad = post(
        capi,
        {
            "mechanism": "custom",
            "categories": {"strictly_necessary": False, "tracking": True},
            "purposes": {"no.such": True},
            "jurisdiction": "mars",
        },
    )
    assert bad.status_code == 422
    pointers = {e["pointer"] for e in bad.json()["errors"]}
    assert pointers == {
        "/categories/strictly_necessary",
        "/categories/tracking",
        "/purposes/no.such",
        "/jurisdiction",
    }
    schema = post(capi, {"mechanism": "maybe"})
    assert schema.status_code == 422 and schema.json()["errors"][0]["pointer"] == "/mechanism"
    assert post(capi, {"mechanism": "api"}).status_code == 403  # needs consent:write


def test_decisions_across_legal_bases(capi: ConsentApi) -> None:
    made = post(capi, {"mechanism": "custom", "categories": {"analytics": True}})
    subject = made.json()["subject"]
    assert decision(capi, subject, "analytics.web")["allowed"] is True
    assert decision(capi, subject, "marketing.advertising.third_party.targeted") == {
        "allowed": False,
        "reason": "no_consent",
        "purpose": "marketing.advertising.third_party.targeted",
        "subject": subject,
    }
    assert decision(capi, subject, "essential.service.payment_processing")["reason"] == "contract"
    assert decision(capi, subject, "marketing.events")["reason"] == "legitimate_interests"
    post(capi, {"mechanism": "withdrawal", "categories": {"analytics": False}})
    assert decision(capi, subject, "analytics.web")["allowed"] is False
    denied = capi.client.get(
        "/v1/consent/decision",
        params={"subject": subject, "purpose": "analytics.web"},
        headers=capi.auth("support_agent"),
    )
    assert denied.status_code == 403


def test_restriction_and_objection_from_the_request_engine(capi: ConsentApi) -> None:
    subject = "subject:0b7e2a5c-1111-4222-8333-944445555666"
    with capi.store.transaction() as session:
        set_limit(session, subject, "objection", purpose="marketing.events", actor="system:dsr")
    service_for(capi.store).invalidate(subject)
    assert decision(capi, subject, "marketing.events")["reason"] == "objection"
    with capi.store.transaction() as session:
        set_limit(session, subject, "restriction", actor="system:dsr", request_id="R-1")
    service_for(capi.store).invalidate(subject)
    assert decision(capi, subject, "essential.service.payment_processing")["reason"] == (
        "restricted"
    )
    shown = capi.client.get(f"/v1/consent/{subject}", headers=capi.auth("privacy_officer"))
    assert shown.json()["limits"] == {"restriction": ["*"], "objection": ["marketing.events"]}
    with capi.store.transaction() as session:
        set_limit(session, subject, "restriction", active=False, actor="system:dsr")
    service_for(capi.store).invalidate(subject)
    assert decision(capi, subject, "essential.service.payment_processing")["allowed"] is True
    shown = capi.client.get(f"/v1/consent/{subject}", headers=capi.auth("privacy_officer"))
    assert shown.json()["limits"] == {"restriction": [], "objection": ["marketing.events"]}


def test_programmes_default_per_jurisdiction_and_participation(capi: ConsentApi) -> None:
    subject, purpose = "device:abcdefghijklmnop", "analytics.product_improvement"
    eu = {"jurisdiction": "eu", "organisation": "org-1"}
    us = {"jurisdiction": "global", "organisation": "org-2"}
    assert decision(capi, subject, purpose, **eu)["reason"] == "programme_not_joined"
    assert decision(capi, subject, purpose, **us)["allowed"] is True
    url = "/v1/programs/ceip/participation"
    joined = capi.client.post(
        url,
        json={"scope": "organisation", "id": "org-1", "action": "join"},
        headers=capi.auth("service"),
    )
    assert joined.status_code == 201, joined.text
    left = capi.client.post(
        url,
        json={"scope": "organisation", "id": "org-2", "action": "leave"},
        headers=capi.auth("admin"),
    )
    assert left.status_code == 201
    assert decision(capi, subject, purpose, **eu)["allowed"] is True
    assert decision(capi, subject, purpose, **us)["reason"] == "programme_not_joined"
    # an installation's own choice wins over its organisation's
    capi.client.post(
        url,
        json={"scope": "installation", "id": "inst-9", "action": "leave"},
        headers=capi.auth("service"),
    )
    inst = {**eu, "installation": "inst-9"}
    assert decision(capi, subject, purpose, **inst)["allowed"] is False
    assert (
        capi.client.post(
            url,
            json={"scope": "organisation", "id": "x", "action": "join"},
            headers=capi.auth("support_agent"),
        ).status_code
        == 403
    )
    assert (
        capi.client.post(
            "/v1/programs/nope/participation",
            json={"scope": "organisation", "id": "x", "action": "join"},
            headers=capi.auth("service"),
        ).status_code
        == 404
    )
    status = capi.client.get(
        url, params={"organisation": "org-1", "jurisdiction": "eu"}, headers=capi.auth("auditor")
    ).json()
    assert status["default"] == "opt_in" and status["participating"] is True
    events = capi.client.get(
        "/v1/audit", params={"object_type": "programme"}, headers=capi.auth("auditor")
    )
    assert events.status_code == 200, events.text
    recorded = {
        (e["action"], e["details"]["scope"], e["details"]["scope_id"])
        for e in events.json()["events"]
    }
    assert recorded == {
        ("programme.joined", "organisation", "org-1"),
        ("programme.left", "organisation", "org-2"),
        ("programme.left", "installation", "inst-9"),
    }


def test_gpc_header_opts_out_in_california(capi: ConsentApi) -> None:
    made = post(
        capi, {"mechanism": "accept_all", "jurisdiction": "us-ca"}, headers={"Sec-GPC": "1"}
    )
    assert made.status_code == 201
    body = made.json()
    assert body["gpc_applied"] is True
    assert body["choices"]["categories"]["advertising"] is False
    assert body["choices"]["categories"]["analytics"] is True
    subject = body["subject"]
    ads = decision(capi, subject, "marketing.advertising.third_party.targeted")
    assert ads == {**ads, "allowed": False}
    # the product passes the signal it saw; without a record it is still honoured
    fresh = decision(
        capi,
        "device:zzzzzzzzzzzzzzzz",
        "marketing.advertising.third_party.targeted",
        jurisdiction="us-ca",
        gpc="true",
    )
    assert fresh["reason"] == "gpc_opt_out"
    # in the EU, GPC is not a legal opt-out; consent rules apply as they are
    eu = post(capi, {"mechanism": "accept_all", "jurisdiction": "eu"}, headers={"Sec-GPC": "1"})
    assert eu.json()["gpc_applied"] is False


def test_explicit_opt_in_overrides_gpc_and_says_so(capi: ConsentApi) -> None:
    made = post(
        capi,
        {
            "mechanism": "custom",
            "categories": {"advertising": True},
            "jurisdiction": "us-ca",
            "gpc": True,
        },
    )
    body = made.json()
    assert body["gpc_applied"] is False and body["choices"]["categories"]["advertising"] is True
    record = capi.client.get("/v1/consent/me").json()["records"][-1]
    assert record["gpc"] == {"signal": True, "applied": False}


def test_the_log_is_append_only(capi: ConsentApi) -> None:
    post(capi, {"mechanism": "reject_all"})
    with capi.store.transaction() as session:
        set_participation(session, capi.manifest, "ceip", "organisation", "o", True, "api:t")
        set_limit(session, "subject:abcdefgh", "restriction", actor="system:dsr")
    for statement in (
        "UPDATE consent_records SET mechanism = 'accept_all'",
        "DELETE FROM consent_records",
        "DELETE FROM programme_participation",
        "UPDATE processing_limits SET active = 0",
    ):
        with pytest.raises((StoreError, DBAPIError)), capi.store.transaction() as session:
            session.execute(text(statement))
    with capi.store.reader() as session:
        assert session.execute(text("SELECT count(*) FROM consent_records")).scalar() == 1
        audited = session.execute(
            text("SELECT count(*) FROM audit_events WHERE action LIKE 'consent.%'")
        ).scalar()
    assert audited == 2  # the record and the restriction


def test_export_is_json_lines_for_auditors(capi: ConsentApi) -> None:
    for mechanism in ("accept_all", "reject_all", "accept_all"):
        post(capi, {"mechanism": mechanism})
    assert capi.client.get("/v1/consent/export").status_code == 401
    out = capi.client.get("/v1/consent/export", headers=capi.auth("auditor"))
    assert out.status_code == 200
    lines = [json.loads(line) for line in out.text.splitlines()]
    assert [r["mechanism"] for r in lines] == ["accept_all", "reject_all", "accept_all"]
    jwks = capi.client.get("/.well-known/jwks.json").json()
    assert all(verify_receipt(r["receipt"], jwks)["jti"] == r["id"] for r in lines)


def test_banner_config_in_the_visitors_language(capi: ConsentApi) -> None:
    nb = capi.client.get("/v1/consent/config", headers={"Accept-Language": "nb-NO,nb;q=0.9"})
    assert nb.status_code == 200 and nb.headers["content-language"] == "nb"
    config = nb.json()
    assert config["texts"]["accept_all"] == "Godta alle"
    ids = [c["id"] for c in config["categories"]]
    assert ids[0] == "strictly_necessary" and config["categories"][0]["required"] is True
    assert "_lumen_wa" in next(c for c in config["categories"] if c["id"] == "analytics")["cookies"]
    ca = capi.client.get("/v1/consent/config", params={"lang": "nl", "jurisdiction": "us-ca"})
    assert (
        ca.json()["gpc"]["applies"] is True
        and "Global Privacy Control" in ca.json()["gpc"]["message"]
    )
    assert "Do Not Track" in ca.json()["dnt"]["statement"]
