"""Device ids are credentials (issue 11 item 1); staff reads are audited (issue 10 item 3);
CSV exports do not run formulas (issue 11 item 7)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from consentsupport import ConsentApi, verify_receipt
from sqlalchemy import text

from pledge.consent.export import _csv_cell


def post(capi: ConsentApi, body: dict[str, Any], **kw: Any) -> Any:
    return capi.client.post("/v1/consent", json={"language": "en", **body}, **kw)


def audit_events(capi: ConsentApi, action: str) -> list[dict[str, Any]]:
    with capi.store.reader() as session:
        rows = session.execute(
            text("SELECT actor, object_id, details FROM audit_events WHERE action = :a"),
            {"a": action},
        ).all()
    return [{"actor": a, "object_id": o, "details": json.loads(d)} for a, o, d in rows]


def staff_sees(capi: ConsentApi) -> str:
    """Everything an auditor can read about consent: the export (both formats), the audit log."""
    auditor = capi.auth("auditor")
    seen = [
        capi.client.get("/v1/consent/export", headers=auditor).text,
        capi.client.get("/v1/consent/export?format=csv", headers=auditor).text,
        capi.client.get("/v1/audit/export", headers=auditor).text,
    ]
    for line in seen[0].splitlines():  # and every receipt's claims
        body = json.loads(line)["receipt"].split(".")[1]
        seen.append(json.dumps(verify_receipt(json.loads(line)["receipt"], jwks(capi))) + body)
    return "\n".join(seen)


def jwks(capi: ConsentApi) -> dict[str, Any]:
    keys: dict[str, Any] = capi.client.get("/.well-known/jwks.json").json()
    return keys


def test_the_forging_attempt_fails(capi: ConsentApi) -> None:
    """An auditor reads a visitor's reject_all, then tries to turn it into accept_all."""
    made = post(capi, {"mechanism": "reject_all", "jurisdiction": "eu"})
    assert made.status_code == 201, made.text
    device = capi.client.cookies.get("pledge_device")
    assert device
    capi.client.cookies.clear()
    seen = staff_sees(capi)
    assert device not in seen  # not in the export, its receipts, nor the audit log
    exported = json.loads(capi.client.get("/v1/consent/export", headers=capi.auth("auditor")).text)
    reference = exported["subject"]
    assert reference.startswith("device:dv1-")

    # What the auditor saw does not work as the visitor's cookie: it names another device.
    capi.client.cookies.set("pledge_device", reference.removeprefix("device:"))
    forged = post(capi, {"mechanism": "accept_all", "jurisdiction": "eu"})
    assert forged.status_code == 201 and forged.json()["subject"] != reference
    capi.client.cookies.clear()
    capi.client.cookies.set("pledge_device", device)
    mine = capi.client.get("/v1/consent/me").json()
    assert mine["subject"] == reference
    assert [r["mechanism"] for r in mine["records"]] == ["reject_all"]
    assert mine["categories"]["analytics"] is False
    capi.client.cookies.clear()

    # Roles without consent:write cannot record for anyone; those with it are recorded as staff.
    for role in ("auditor", "support_agent"):
        body = {"mechanism": "accept_all", "subject": reference, "jurisdiction": "eu"}
        assert post(capi, body, headers=capi.auth(role)).status_code == 403
    body = {"mechanism": "accept_all", "subject": reference, "jurisdiction": "eu"}
    staff = post(capi, body, headers=capi.auth("privacy_officer"))
    assert staff.status_code == 201, staff.text
    assert staff.json()["subject"] == reference
    assert staff.json()["made_by"] == "staff:test privacy_officer"
    claims = verify_receipt(staff.json()["receipt"], jwks(capi))
    assert claims["madeBy"] == "staff:test privacy_officer" and claims["onBehalf"] is True
    shown = capi.client.get(f"/v1/consent/{reference}", headers=capi.auth("auditor")).json()
    assert [(r["made_by"], r["on_behalf"]) for r in shown["records"]] == [
        ("person", False),
        ("staff:test privacy_officer", True),
    ]
    (event,) = [
        e for e in audit_events(capi, "consent.recorded") if e["object_id"] == staff.json()["id"]
    ]
    assert event["details"]["on_behalf"] is True and event["details"]["subject"] == reference


def test_a_clear_device_id_given_by_a_key_is_hashed_too(capi: ConsentApi) -> None:
    """A service naming a device by the cookie it read stores only the reference."""
    body = {"mechanism": "accept_all", "subject": "device:productcookie0001", "jurisdiction": "eu"}
    made = post(capi, body, headers=capi.auth("service"))
    assert made.status_code == 201, made.text
    assert made.json()["subject"].startswith("device:dv1-")
    assert "productcookie0001" not in staff_sees(capi)
    decided = capi.client.get(
        "/v1/consent/decision",
        params={"subject": "device:productcookie0001", "purpose": "analytics.web"},
        headers=capi.auth("service"),
    )
    assert decided.json()["allowed"] is True


def test_staff_reads_are_audited_with_their_purpose(capi: ConsentApi) -> None:
    made = post(capi, {"mechanism": "accept_all", "jurisdiction": "eu"})
    reference = made.json()["subject"]
    assert capi.client.get("/v1/consent/me").status_code == 200  # the person's own read
    assert audit_events(capi, "consent.read") == []
    capi.client.cookies.clear()
    read = capi.client.get(
        f"/v1/consent/{reference}",
        params={"purpose": "ticket:SUP-1234"},
        headers=capi.auth("support_agent"),
    )
    assert read.status_code == 200, read.text
    (event,) = audit_events(capi, "consent.read")
    assert event["actor"].startswith("api:") and event["object_id"] == reference
    assert event["details"]["subject"] == reference
    assert event["details"]["purpose"] == "ticket:SUP-1234"
    assert "choices" in event["details"]["kinds"]
    assert "analytics" not in json.dumps(event)  # kinds, never the values read

    exported = capi.client.get(
        "/v1/consent/export", params={"format": "csv"}, headers=capi.auth("auditor")
    )
    assert exported.status_code == 200
    (export_event,) = audit_events(capi, "consent.exported")
    assert export_event["details"]["format"] == "csv" and "purpose" not in export_event["details"]
    bad = capi.client.get(
        f"/v1/consent/{reference}",
        params={"purpose": "mail to ada@example.org"},
        headers=capi.auth("auditor"),
    )
    assert bad.status_code == 422
    assert len(audit_events(capi, "consent.read")) == 1


def test_csv_export_cells_do_not_run_as_formulas(capi: ConsentApi) -> None:
    version = '=HYPERLINK("http://evil","x")'
    row = {
        "subject": "device:csvinjection0001",
        "given_at": "2024-03-01T10:00:00Z",
        "notice_version": version,
        "jurisdiction": "eu",
        "language": "en",
        "source": "oldtool",
        "categories": {"analytics": True},
    }
    imported = capi.client.post(
        "/v1/consent/import",
        params={"notice_version": version},
        content=json.dumps(row),
        headers={"Content-Type": "application/x-ndjson", **capi.auth("admin")},
    )
    assert imported.status_code == 201, imported.text
    out = capi.client.get("/v1/consent/export?format=csv", headers=capi.auth("auditor"))
    assert out.headers["content-type"].startswith("text/csv")
    (record,) = list(csv.DictReader(io.StringIO(out.text)))
    assert record["notice_version"] == "'" + version
    assert record["made_by"] == "import:oldtool" and record["on_behalf"] == "true"
    for cell, shown in (("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx")):
        assert _csv_cell(cell) == shown
    assert _csv_cell("plain") == "plain" and _csv_cell(None) == ""
