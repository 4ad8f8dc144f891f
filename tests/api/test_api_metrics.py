"""/metrics speaks the Prometheus text format and labels requests by route template."""

from __future__ import annotations

import re

from apisupport import Api

LINE = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? [0-9.e+-]+|\+Inf$')


def test_metrics(api: Api) -> None:
    api.client.get("/notices/general?lang=nb")
    api.client.get("/notices/does-not-exist")
    api.client.get("/some/random/path/with/an/id/12345")
    response = api.client.get("/metrics", headers=api.auth("service"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    for line in text.splitlines():
        assert line.startswith("# ") or LINE.match(line), line
    assert 'route="/notices/{notice_id}",status="200"} 1' in text
    assert 'route="/notices/{notice_id}",status="404"} 1' in text
    assert 'route="unmatched",status="404"} 1' in text
    assert "12345" not in text  # raw paths never become labels
    assert 'pledge_jobs{state="queued"} 0' in text
    assert re.search(r"^pledge_audit_head_seq \d+$", text, re.MULTILINE)
    assert "pledge_http_request_duration_seconds_bucket" in text
    assert 'le="+Inf"' in text


def test_health(api: Api) -> None:
    body = api.client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["worker"] == "disabled"
    assert len(body["manifest_digest"]) == 64
