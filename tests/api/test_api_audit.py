"""The audit log over HTTP: filters, pages, the JSON Lines export and checkpoints."""

from __future__ import annotations

import hashlib
import json

from apisupport import Api

from pledge.store import audit


def _append(api: Api, count: int, action: str = "test.event") -> None:
    with api.store.transaction() as session:
        for i in range(count):
            audit.append(session, "tester", action, "thing", f"t{i}", {"i": i})


def test_pages_join_up_in_both_orders(api: Api) -> None:
    _append(api, 25)
    headers = api.auth("auditor")
    for order in ("asc", "desc"):
        seen: list[int] = []
        cursor = ""
        while True:
            page = api.client.get(
                f"/v1/audit?limit=7&order={order}&cursor={cursor}", headers=headers
            ).json()
            seen += [e["seq"] for e in page["events"]]
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
        expected = sorted(seen, reverse=order == "desc")
        assert seen == expected
        assert len(seen) == len(set(seen)) >= 25 + 6  # the 6 key events too


def test_filters(api: Api) -> None:
    _append(api, 3, "test.kept")
    _append(api, 2, "test.other")
    headers = api.auth("privacy_officer")
    kept = api.client.get("/v1/audit?action=test.kept", headers=headers).json()["events"]
    assert [e["object_id"] for e in kept] == ["t0", "t1", "t2"]
    by_id = api.client.get("/v1/audit?object_type=thing&object_id=t1", headers=headers).json()
    assert len(by_id["events"]) == 2
    future = api.client.get("/v1/audit?since=2999-01-01T00:00:00Z", headers=headers).json()[
        "events"
    ]
    assert future == []
    past = api.client.get("/v1/audit?until=2000-01-01T00:00:00%2B01:00", headers=headers).json()
    assert past["events"] == []


def test_export_is_json_lines_that_verify(api: Api) -> None:
    _append(api, 2500)  # more than one export page
    response = api.client.get("/v1/audit/export", headers=api.auth("auditor"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in response.headers["content-disposition"]
    lines = response.text.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    prev = audit.GENESIS
    for e in events:  # an auditor can recompute the chain from the export alone
        record = audit.canonical_record(
            e["seq"],
            e["occurred_at"],
            e["actor"],
            e["action"],
            e["object_type"],
            e["object_id"],
            audit.canonical_details(e["details"]),
            e["prev_hash"],
        )
        assert e["prev_hash"] == prev
        assert hashlib.sha256(record).hexdigest() == e["hash"]
        prev = e["hash"]
    since = api.client.get("/v1/audit/export?since=2500", headers=api.auth("auditor"))
    assert json.loads(since.text.splitlines()[0])["seq"] == 2501


def test_checkpoints(api: Api) -> None:
    _append(api, 3)
    created = api.client.post("/v1/audit/checkpoints", headers=api.auth("auditor"))
    assert created.status_code == 200
    cp = created.json()
    assert cp["format"] == "pledge-audit-checkpoint/1"
    from pledge.store.signing import Checkpoint

    assert Checkpoint.from_dict(cp).signature_valid()
    listed = api.client.get("/v1/audit/checkpoints", headers=api.auth("auditor")).json()
    assert cp in listed
    assert audit.verify(api.store).ok
