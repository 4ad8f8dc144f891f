"""The lean decision route answers exactly as the FastAPI route does, byte for byte.

Two apps over one store: one with the lean routes (`pledge.api.fastpath`), one without (the
reference). The same requests go to both; status, headers (names, values and order) and body
must match, and so must what the metrics counted. The common requests must really have been
answered by the lean route.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from consentsupport import RELAXED, lumen_copy
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from pledge import apikeys
from pledge.api.app import PledgeAPI, create_app
from pledge.api.fastpath import LeanRoutes, decision_query
from pledge.api.permissions import ROLES
from pledge.consent import records
from pledge.consent.limits import set_limit
from pledge.consent.service import ConsentService, service_for
from pledge.consent.subjects import of_device
from pledge.manifest_holder import ManifestHolder
from pledge.store.db import Store
from pledge.store.errors import StoreError

PURPOSES = (
    "analytics.web",
    "essential.service.payment_processing",
    "analytics.product_improvement",
    "marketing.advertising.third_party.targeted",
    "marketing.events",
    "no.such.purpose",
)
URL = "/v1/consent/decision"


@dataclass
class Pair:
    lean: TestClient
    reference: TestClient
    lean_app: PledgeAPI
    reference_app: PledgeAPI
    keys: dict[str, str]
    revoked: str
    handled: list[bool]


@pytest.fixture
def pair(consent_store: Store, tmp_path: Path) -> Iterator[Pair]:
    holder = ManifestHolder(str(lumen_copy(tmp_path / "lumen")))
    lean_app = create_app(consent_store.settings, consent_store, holder, api_settings=RELAXED)
    reference_app = create_app(
        consent_store.settings, consent_store, holder, api_settings=RELAXED, lean_routes=False
    )
    keys, revoked = _keys(consent_store)
    _choices(consent_store, holder)
    handled = _spy(lean_app)
    with TestClient(lean_app) as lean, TestClient(reference_app) as reference:
        yield Pair(lean, reference, lean_app, reference_app, keys, revoked, handled)


def _keys(store: Store) -> tuple[dict[str, str], str]:
    keys = {}
    with store.transaction() as session:
        for role in ROLES:
            _, keys[role] = apikeys.create(session, f"test {role}", role)
        record, revoked = apikeys.create(session, "gone", "service")
        apikeys.revoke(session, record.id)
    return keys, revoked


def _choices(store: Store, holder: ManifestHolder) -> None:
    service = service_for(store)
    for device, mechanism, where, gpc in (
        ("acceptallaaaaaaaa", "accept_all", "eu", False),
        ("rejectallbbbbbbbb", "reject_all", "eu", False),
        ("californiacccccc", "accept_all", "us-ca", True),
    ):
        subject = of_device(store.vault, device)
        choice = records.NewChoice(subject, mechanism, where, "en", "test", gpc_signal=gpc)
        service.record(holder.manifest, choice, "http://test")
    rejecting = of_device(store.vault, "rejectallbbbbbbbb")
    with store.transaction() as session:
        set_limit(session, "subject:restricted-dddddddd", "restriction", actor="system:dsr")
        set_limit(session, rejecting, "objection", purpose="marketing.events", actor="t")


def _spy(app: PledgeAPI) -> list[bool]:
    """Record, per request, whether the lean route answered it."""
    lean = app.lean
    assert isinstance(lean, LeanRoutes)
    original = lean.handle
    handled: list[bool] = []

    async def handle(scope: Scope, receive: Receive, send: Send) -> bool:
        answered = await original(scope, receive, send)
        handled.append(answered)
        return answered

    lean.handle = handle  # type: ignore[method-assign]
    return handled


def _same(pair: Pair, method: str, url: str, **kwargs: Any) -> int:
    lean = pair.lean.request(method, url, follow_redirects=False, **kwargs)
    reference = pair.reference.request(method, url, follow_redirects=False, **kwargs)
    where = f"{method} {url} {kwargs.get('headers')}"
    assert lean.status_code == reference.status_code, where
    assert lean.headers.raw == reference.headers.raw, where
    assert _without_error_id(lean.content) == _without_error_id(reference.content), where
    return lean.status_code


def _without_error_id(body: bytes) -> bytes:
    """A server fault's `error_id` is fresh for every answer; the rest must be the same bytes."""
    return re.sub(rb'"error_id":"[0-9a-f]+"', b'"error_id":"-"', body)


def _counted(app: PledgeAPI) -> list[str]:
    text = app.state.pledge.metrics.render()
    return [line for line in text.splitlines() if line.startswith("pledge_http_requests_total")]


def test_answers_match_for_every_kind_of_subject_and_purpose(pair: Pair) -> None:
    auth = {"Authorization": f"Bearer {pair.keys['service']}"}
    subjects = (
        "device:acceptallaaaaaaaa",
        "device:rejectallbbbbbbbb",
        "device:californiacccccc",
        "subject:restricted-dddddddd",
        "device:nobodyeeeeeeeeee",
        "nobodyffffffffff",  # a bare device id
    )
    extras: tuple[dict[str, str], ...] = (
        {},
        {"jurisdiction": "us-ca", "gpc": "true"},
        {"jurisdiction": "eu", "organisation": "org-1"},
        {"installation": "inst-1", "gpc": "0"},
        {"jurisdiction": ""},
    )
    statuses = set()
    for subject in subjects:
        for purpose in PURPOSES:
            for extra in extras:
                params = {"subject": subject, "purpose": purpose, **extra}
                statuses.add(_same(pair, "GET", URL, params=params, headers=auth))
    assert statuses == {200}
    assert pair.handled and all(pair.handled)
    assert _counted(pair.lean_app) == _counted(pair.reference_app)


def test_refusals_match(pair: Pair) -> None:
    good = {"subject": "device:acceptallaaaaaaaa", "purpose": "analytics.web"}
    keys = pair.keys
    for headers, expected in (
        ({}, 401),
        ({"Authorization": f"Bearer {pair.revoked}"}, 401),
        ({"Authorization": "Bearer plg_nosuchkey_notasecret"}, 401),
        ({"X-API-Key": "plg_nosuchkey_notasecret"}, 401),
        ({"Authorization": f"Basic {keys['service']}"}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"Authorization": "Bearer plg_a_b"}, 401),
        ({"Authorization": f"Bearer {keys['auditor']}"}, 403),
        ({"X-API-Key": keys["support_agent"]}, 403),
        ({"X-API-Key": keys["service"]}, 200),
        ({"Authorization": f"bearer  {keys['admin']} "}, 200),
    ):
        assert _same(pair, "GET", URL, params=good, headers=headers) == expected, headers
    assert all(pair.handled)
    assert _counted(pair.lean_app) == _counted(pair.reference_app)


def test_what_the_lean_route_leaves_to_the_stack_matches_too(pair: Pair) -> None:
    auth = {"Authorization": f"Bearer {pair.keys['privacy_officer']}"}
    queries = (
        "",
        "subject=device:acceptallaaaaaaaa",
        "purpose=analytics.web",
        "subject=bad&purpose=analytics.web",  # malformed subject: 422 from the route itself
        "subject=device:a%22b&purpose=analytics.web",
        "subject=device:acceptallaaaaaaaa&purpose=ana%22lytics%C3%A9",
        "subject=device:acceptallaaaaaaaa&purpose=analytics.web&gpc=maybe",
        "subject=device:acceptallaaaaaaaa&purpose=analytics.web&gpc=",
        "subject=device:acceptallaaaaaaaa&purpose=analytics.web&gpc=TRUE",
        "subject=device:acceptallaaaaaaaa&purpose=analytics.web&gpc=%20true",
        "subject=device:acceptallaaaaaaaa&purpose=analytics.web&gpc=Off",
        "subject=device:x&subject=device:acceptallaaaaaaaa&purpose=analytics.web",
        "subject=device:acceptallaaaaaaaa&purpose=" + "p" * 101,
        "subject=device:acceptallaaaaaaaa&purpose=" + "p" * 100,
        "subject=device:acceptallaaaaaaaa&purpose=x&jurisdiction=" + "j" * 17,
        "subject=device:acceptallaaaaaaaa&purpose=x&organisation=" + "o" * 201,
        "subject=device:acceptallaaaaaaaa&purpose=x&installation=" + "i" * 201,
        "subject=" + "s" * 81 + "&purpose=x",
        "subject=device:acceptallaaaaaaaa&purpose=analytics.web&unknown=1",
        "subject=device%3Aacceptallaaaaaaaa&purpose=analytics.web",
        "subject=device:acceptallaaaaaaaa;purpose=analytics.web",
    )
    for query in queries:
        _same(pair, "GET", f"{URL}?{query}", headers=auth)
    for query in ("", "subject=bad&purpose=analytics.web"):  # no key: 401 before the 422
        _same(pair, "GET", f"{URL}?{query}")
    params = {"subject": "device:acceptallaaaaaaaa", "purpose": "analytics.web"}
    for method in ("HEAD", "POST", "PUT", "DELETE", "OPTIONS"):
        _same(pair, method, URL, params=params, headers=auth)
    _same(pair, "GET", URL + "/", params=params, headers=auth)
    too_big = {**auth, "Content-Length": str(10 * 1024 * 1024)}
    assert _same(pair, "GET", URL, params=params, headers=too_big, content=b"x") == 413
    assert _same(pair, "GET", URL, params=params, headers=auth, content=b"body") == 200
    assert _counted(pair.lean_app) == _counted(pair.reference_app)


def test_database_trouble_gives_the_same_problem(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*_args: object, **_kwargs: object) -> None:
        raise StoreError("the database is unreachable")

    monkeypatch.setattr(ConsentService, "decide", unavailable)
    auth = {"Authorization": f"Bearer {pair.keys['service']}"}
    params = {"subject": "device:notcachedgggggggg", "purpose": "analytics.web"}
    assert _same(pair, "GET", URL, params=params, headers=auth) == 503
    assert pair.handled == [True]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"subject=a&purpose=b", ("a", "b", None, False)),
        (b"subject=a&purpose=b&gpc=Yes&jurisdiction=eu", ("a", "b", "eu", True)),
        (b"subject=a&purpose=b&gpc=n", ("a", "b", None, False)),
        (b"subject=a", None),
        (b"subject=a&purpose=b&gpc=2", None),
    ],
)
def test_decision_query_parsing(raw: bytes, expected: tuple[Any, ...] | None) -> None:
    query = decision_query(raw)
    found = None if query is None else (query.subject, query.purpose, query.jurisdiction, query.gpc)
    assert found == expected
