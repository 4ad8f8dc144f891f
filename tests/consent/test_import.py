"""Bulk import of consent records from another tool: checks, all-or-nothing, idempotency."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from consentsupport import ConsentApi, _b64, lumen_copy, verify_receipt
from sqlalchemy import text
from typer.testing import CliRunner

from pledge.api.routes import consent_import
from pledge.api.routes.consent_import import MAX_IMPORT_BYTES
from pledge.cli import build
from pledge.consent import import_formats, importer
from pledge.manifest.load import load_manifest
from pledge.store import audit
from pledge.store.db import Store

URL = "/v1/consent/import"
NDJSON = {"Content-Type": "application/x-ndjson"}
OLD = "ot-2023-05"  # the previous tool's notice version, declared with each import


def row(**fields: Any) -> dict[str, Any]:
    base = {
        "subject": "device:abcdefghijkl",
        "given_at": "2024-03-01T10:00:00Z",
        "notice_version": OLD,
        "jurisdiction": "eu",
        "language": "en",
        "source": "onetrust",
        "categories": {"analytics": True, "advertising": False},
    }
    return {k: v for k, v in {**base, **fields}.items() if v is not None}


def ndjson(*rows: dict[str, Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def send(capi: ConsentApi, body: bytes, role: str = "privacy_officer", **params: Any) -> Any:
    headers = {**NDJSON, **capi.auth(role)}
    return capi.client.post(
        URL, content=body, headers=headers, params={"notice_version": OLD, **params}
    )


def count(capi: ConsentApi, sql: str) -> int:
    with capi.store.reader() as session:
        return int(session.execute(text(sql)).scalar_one())


def import_events(store: Store) -> list[audit.Event]:
    with store.reader() as session:
        return audit.list_events(session, audit.EventFilter(action=importer.IMPORTED)).events


def test_an_import_gets_receipts_and_a_second_run_adds_nothing(capi: ConsentApi) -> None:
    body = ndjson(
        row(source_id="r-1"),
        row(subject=None, identity={"kind": "email", "value": "Ada@Example.org"}, source_id="r-2"),
        row(
            subject="device:mnopqrstuvwx",
            categories=None,
            purposes={"marketing.communications.email": True},
            given_at="2023-11-05T08:30:00+01:00",
            language="nb",
        ),
    )
    made = send(capi, body)
    assert made.status_code == 201, made.text
    summary = made.json()
    assert (summary["imported"], summary["already_imported"], summary["rejected"]) == (3, 0, 0)
    assert [r["line"] for r in summary["records"]] == [1, 2, 3]
    jwks = capi.client.get("/.well-known/jwks.json").json()
    third = verify_receipt(summary["records"][2]["receipt"], jwks)
    assert third["collectionMethod"] == "import" and third["language"] == "nb"
    given = datetime(2023, 11, 5, 7, 30, tzinfo=UTC)
    assert third["consentTimestamp"] == int(given.timestamp())  # when the person chose
    assert third["iat"] >= int(datetime.now(UTC).timestamp()) - 60  # when the log got it
    assert third["import"] == {
        "batch": summary["batch"],
        "source": "onetrust",
        "givenAt": "2023-11-05T07:30:00Z",
    }
    person = summary["records"][1]["subject"]
    assert person.startswith("subject:") and "Ada" not in made.text
    state = capi.client.get(f"/v1/consent/{person}", headers=capi.auth("auditor")).json()
    assert state["categories"] == {"analytics": True, "advertising": False}
    assert state["records"][0]["mechanism"] == "import"

    again = send(capi, body)
    assert again.status_code == 200, again.text
    repeat = again.json()
    assert (repeat["imported"], repeat["already_imported"]) == (0, 3)
    assert [r["receipt"] for r in repeat["records"]] == [r["receipt"] for r in summary["records"]]
    assert count(capi, "SELECT count(*) FROM consent_records") == 3
    (event,) = import_events(capi.store)
    assert event.object_id == summary["batch"] and event.actor.startswith("api:")
    assert event.details["imported"] == 3 and event.details["sources"] == ["onetrust"]
    assert "example.org" not in json.dumps(event.details).lower()


def test_bad_rows_are_named_by_line_and_nothing_is_imported(capi: ConsentApi) -> None:
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    lines = [
        json.dumps(row(source_id="a")),  # 1: good
        json.dumps(row(source_id="b", purposes={"no.such.purpose": True})),  # 2
        json.dumps(row(source_id="c", given_at=future)),  # 3
        json.dumps(row(source_id="d", given_at="last tuesday")),  # 4
        json.dumps(row(source_id="e", notice_version="ot-2099")),  # 5
        json.dumps(row(source_id="a")),  # 6: duplicate of line 1
        "",  # 7: blank lines are fine
        '{"subject": "device:abcdefghijkl",',  # 8: not JSON
        json.dumps(row(source_id="f", given_at="2024-03-01T10:00:00")),  # 9: no time zone
        json.dumps(row(source_id="g", categories={"strictly_necessary": False})),  # 10
        json.dumps(row(source_id="h", subject=None, identity={"kind": "email", "value": "x"})),
        json.dumps(row(source_id="i", colour="blue", categories={"tracking": "yes"})),  # 12
        json.dumps(row(source_id="j", source="two words")),  # 13
    ]
    body = ("\n".join(lines) + "\n").encode()
    refused = send(capi, body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["rows"] == 12 and problem["rejected"] == 11
    found = {(e["line"], e["pointer"]) for e in problem["errors"]}
    assert found >= {
        (2, "/purposes/no.such.purpose"),
        (3, "/given_at"),
        (4, "/given_at"),
        (5, "/notice_version"),
        (6, ""),
        (8, ""),
        (9, "/given_at"),
        (10, "/categories/strictly_necessary"),
        (11, "/identity/value"),
        (12, "/colour"),
        (12, "/categories/tracking"),
        (13, "/source"),
    }
    details = {(e["line"], e["pointer"]): e["detail"] for e in problem["errors"]}
    assert details[(3, "/given_at")] == "lies in the future"
    assert details[(6, "")] == "duplicates line 1 (same source and source_id)"
    assert "not JSON" in details[(8, "")]
    assert "time zone" in details[(9, "/given_at")]
    assert count(capi, "SELECT count(*) FROM consent_records") == 0
    assert import_events(capi.store) == []

    partly = send(capi, body, partial="true")
    assert partly.status_code == 201, partly.text
    summary = partly.json()
    assert (summary["imported"], summary["rejected"]) == (1, 11)
    assert summary["records"][0]["line"] == 1 and len(summary["errors"]) == len(problem["errors"])
    assert count(capi, "SELECT count(*) FROM consent_records") == 1
    assert import_events(capi.store)[0].details["rejected"] == 11


def test_json_array_and_csv_name_the_right_lines(capi: ConsentApi) -> None:
    records = [row(source_id="1"), row(source_id="2", purposes={"nope": True})]
    pretty = json.dumps(records, indent=2).encode()  # the second record starts on line 12
    answer = capi.client.post(
        URL,
        content=pretty,
        headers={"Content-Type": "application/json", **capi.auth("admin")},
        params={"notice_version": OLD},
    )
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    second = pretty.decode().splitlines().index("  {", 2) + 1
    assert (error["line"], error["pointer"]) == (second, "/purposes/nope")
    csv_text = (
        "subject,given_at,notice_version,jurisdiction,language,source,source_id,"
        "categories.analytics,purposes.analytics.web\n"
        f'device:csvdevice0001,2024-01-02T03:04:05Z,{OLD},eu,en,"old\ntool",1,yes,\n'
        f"device:csvdevice0002,2024-01-02T03:04:05Z,{OLD},eu,en,cmp,2,,false\n"
        f"device:csvdevice0003,2024-01-02T03:04:05Z,{OLD},eu,en,cmp,3,maybe,\n"
    )
    made = capi.client.post(
        URL,
        content=csv_text.encode(),
        headers={"Content-Type": "text/csv; charset=utf-8", **capi.auth("admin")},
        params={"notice_version": OLD, "partial": "true"},
    )
    assert made.status_code == 201, made.text
    summary = made.json()
    lines = {(e["line"], e["pointer"]) for e in summary["errors"]}
    assert lines == {(2, "/source"), (5, "/categories/analytics")}  # a quoted newline
    assert [r["line"] for r in summary["records"]] == [4]
    claims = json.loads(_b64(summary["records"][0]["receipt"].split(".")[1]))
    assert claims["choices"] == {"categories": {}, "purposes": {"analytics.web": False}}


def test_an_older_choice_never_overrides_a_newer_one(capi: ConsentApi) -> None:
    live = capi.client.post("/v1/consent", json={"mechanism": "reject_all", "language": "en"})
    device = live.json()["subject"]
    stale = send(capi, ndjson(row(subject=device)))
    assert stale.status_code == 422
    (error,) = stale.json()["errors"]
    assert error["pointer"] == "/given_at" and "newer choice" in error["detail"]
    # rows of one subject go into the log oldest first, whatever their order in the file
    other = "device:orderorderorder"
    newest = row(subject=other, given_at="2024-06-01T00:00:00Z", categories={"analytics": False})
    oldest = row(subject=other, given_at="2024-01-01T00:00:00Z", categories={"analytics": True})
    assert send(capi, ndjson(newest, oldest)).status_code == 201
    state = capi.client.get(f"/v1/consent/{other}", headers=capi.auth("auditor")).json()
    assert state["categories"]["analytics"] is False
    later = row(subject=other, given_at="2024-09-01T00:00:00Z", categories={"analytics": True})
    assert send(capi, ndjson(later)).status_code == 201  # newer than what was imported
    between = row(subject=other, given_at="2024-07-01T00:00:00Z", source_id="between")
    assert send(capi, ndjson(between)).status_code == 422


def test_a_changed_record_under_the_same_source_id_is_refused(capi: ConsentApi) -> None:
    assert send(capi, ndjson(row(source_id="x-1"))).status_code == 201
    changed = send(capi, ndjson(row(source_id="x-1", categories={"analytics": False})))
    assert changed.status_code == 422
    (error,) = changed.json()["errors"]
    assert error["pointer"] == "/source_id" and "different content" in error["detail"]


def test_vault_subjects_must_exist_and_not_be_erased(capi: ConsentApi) -> None:
    with capi.store.transaction() as session:
        kept = capi.store.vault.find_or_create_subject(session, "user_id", "u-1")
        gone = capi.store.vault.find_or_create_subject(session, "user_id", "u-2")
        capi.store.vault.shred(session, gone, "cli:test", "request R-1")
    body = ndjson(
        row(subject=f"subject:{kept}"),
        row(subject="subject:0b7e2a5c-0000-4000-8000-000000000000"),
        row(subject=f"subject:{gone}"),
    )
    answer = send(capi, body, partial="true")
    assert answer.status_code == 201
    details = {e["line"]: e["detail"] for e in answer.json()["errors"]}
    assert details == {2: "no such subject in the vault", 3: "this subject was erased"}


def test_dry_run_checks_everything_and_writes_nothing(capi: ConsentApi) -> None:
    checked = send(capi, ndjson(row(), row(subject="device:zyxwvutsrqpo")), dry_run="true")
    assert checked.status_code == 200
    summary = checked.json()
    assert summary["dry_run"] and [r["status"] for r in summary["records"]] == ["would_import"] * 2
    assert count(capi, "SELECT count(*) FROM consent_records") == 0
    assert import_events(capi.store) == []


def test_what_the_route_refuses(capi: ConsentApi, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = capi.auth("admin")
    plain = capi.client.post(URL, content=b"x", headers={"Content-Type": "text/plain", **auth})
    assert plain.status_code == 415
    empty = capi.client.post(URL, content=b"\n\n", headers={**NDJSON, **auth})
    assert empty.status_code == 422 and empty.json()["errors"][0]["detail"] == (
        "the file holds no records"
    )
    broken = capi.client.post(
        URL, content=b'[\n{"a": 1},\n{"b": \n', headers={"Content-Type": "application/json", **auth}
    )
    assert broken.status_code == 422 and broken.json()["errors"][0]["line"] == 3
    for role in ("service", "support_agent", "auditor"):
        assert send(capi, ndjson(row()), role=role).status_code == 403
    monkeypatch.setattr(consent_import, "MAX_IMPORT_BYTES", 100)
    too_big = send(capi, ndjson(row(), row(source_id="2")), role="admin")
    assert too_big.status_code == 413
    assert count(capi, "SELECT count(*) FROM consent_records") == 0


def test_imports_have_a_body_limit_of_their_own(capi: ConsentApi) -> None:
    rows = [row(subject=f"device:bulk{i:012d}", source_id=str(i)) for i in range(6000)]
    body = ndjson(*rows)
    assert len(body) > 1024 * 1024  # over the API-wide PLEDGE_MAX_BODY_BYTES
    checked = send(capi, body, dry_run="true")
    assert checked.status_code == 200, checked.text
    assert [r["status"] for r in checked.json()["records"]] == ["would_import"] * 6000
    over = send(capi, b" " * (MAX_IMPORT_BYTES + 1))
    assert over.status_code == 413
    assert str(MAX_IMPORT_BYTES) in over.json()["detail"]
    # every other route keeps the API-wide limit
    elsewhere = capi.client.post(
        "/v1/consent", content=body, headers={"Content-Type": "application/json"}
    )
    assert elsewhere.status_code == 413


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_records_read_the_same_whatever_the_chunks(size: int) -> None:
    records = [row(source_id=str(i)) for i in range(5)]
    samples = {
        "ndjson": ndjson(*records),
        "json": json.dumps(records, indent=1, ensure_ascii=False).encode(),
        "csv": (
            b"subject,given_at,source,categories.analytics\n"
            b'device:aaaaaaaa,2024-01-01T00:00:00Z,"multi\nline",true\r\n'
            b"device:bbbbbbbb,2024-01-01T00:00:00Z,x,no\n"
        ),
    }
    for fmt, data in samples.items():
        whole = import_formats.RowReader(fmt)
        expected = whole.feed(data) + whole.close()
        reader = import_formats.RowReader(fmt)
        rows: list[import_formats.RawRow] = []
        for start in range(0, len(data), size):
            rows += reader.feed(data[start : start + size])
        assert rows + reader.close() == expected, fmt
    assert [r.line for r in expected] == [2, 4]
    assert expected[0].data["source"] == "multi\nline"


def test_import_on_each_database(store: Store, tmp_path: Path) -> None:
    manifest = load_manifest(lumen_copy(tmp_path / "lumen"), lint=False)
    options = importer.ImportOptions(
        actor="cli:test", issuer="https://pledge.test", notice_versions=frozenset({OLD})
    )
    first = import_formats.RawRow(1, row(given_at="2024-01-01T00:00:00Z"))
    second = import_formats.RawRow(2, row(given_at="2024-02-01T00:00:00Z", source_id="s"))
    done = importer.import_rows(store, manifest, [second, first], options)
    assert (done.count("imported"), done.errors) == (2, [])
    again = importer.import_rows(store, manifest, [first, second], options)
    assert again.count("already_imported") == 2
    older = import_formats.RawRow(1, row(given_at="2024-01-15T00:00:00Z", source_id="t"))
    refused = importer.import_rows(store, manifest, [older], options)
    assert refused.refused and refused.errors[0]["pointer"] == "/given_at"
    assert len(import_events(store)) == 1


def test_cli_imports_a_file(store_env: Store, tmp_path: Path) -> None:
    manifest = lumen_copy(tmp_path / "lumen")
    runner = CliRunner()
    app = build()
    good = tmp_path / "choices.ndjson"
    good.write_bytes(ndjson(row(source_id="1"), row(source_id="2", subject="device:secondsecond")))
    base = ["consent", "import", "--manifest", str(manifest), "--notice-version", OLD]
    dry = runner.invoke(app, [*base, str(good), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: 2 would be imported" in dry.stdout
    out = tmp_path / "receipts.ndjson"
    made = runner.invoke(app, [*base, str(good), "--receipts", str(out)])
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith("imported 2, 0 imported before, 0 of 2 records refused")
    saved = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in saved] == ["imported", "imported"] and saved[0]["receipt"]
    again = runner.invoke(app, [*base, str(good), "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["already_imported"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,given_at,colour\n")
    broken = runner.invoke(app, [*base, str(bad)])
    assert broken.exit_code == 2 and "unknown column 'colour'" in broken.output
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_bytes(ndjson(row(source_id="3", language="xx")))
    refused = runner.invoke(app, [*base, str(wrong)])
    assert refused.exit_code == 1
    assert f"{wrong}:1: /language: not declared" in refused.output
    assert "nothing was imported: 1 of 1 records refused" in refused.stdout


def test_placeholder_and_out_of_range_times_are_refused(capi: ConsentApi) -> None:
    times = ["1970-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
    body = ndjson(*(row(given_at=t, source_id=t) for t in times))
    answer = send(capi, body)
    assert answer.status_code == 422
    details = [e["detail"] for e in answer.json()["errors"]]
    assert details[0].startswith("before 1990") and details[1].startswith("before 1990")
    assert details[2] == "lies in the future"
