"""The request pages as forms: errors by their fields, the form guard, answers that never tell
whether an address is known, codes, resends, the no-code opt-out, rate limits, and the public
JSON resend route."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from centresupport import UNKNOWN, Centre, build_centre, ids_of, known_person, same_but_ids
from flowsupport import (
    DOWNLOAD_LINK,
    click_download,
    code_in,
    latest_code,
    link_in,
    mails_to,
    outbox,
    run_jobs,
)

from pledge.api import formguard
from pledge.api.settings import ApiSettings
from pledge.consent.ids import vault_subject
from pledge.consent.limits import active_limits
from pledge.policy import objectable_purposes
from pledge.requests import service, verification
from pledge.requests.tables import DataRequest

# --- the form ---------------------------------------------------------------------------------


def test_the_form_offers_only_the_rights_of_the_jurisdiction(centre: Centre) -> None:
    eu, _ = centre.form("en", jurisdiction="eu")
    california, _ = centre.form("en", jurisdiction="us-ca")
    elsewhere, _ = centre.form("en", country="BR")
    kinds = {
        name: set(re.findall(r'name="kind" value="(\w+)"', page))
        for name, page in (("eu", eu), ("us-ca", california), ("global", elsewhere))
    }
    for name, found in kinds.items():
        assert found == set(service.offered_kinds(centre.manifest, name)), name
    assert "opt_out_sale_sharing" in kinds["us-ca"] and "opt_out_sale_sharing" not in kinds["eu"]
    assert 'value="global" selected' in elsewhere
    assert "Sale" not in eu and "Opt-out of the sale" in california
    # each right explained, each control labelled and described
    for kind in kinds["eu"]:
        assert f'<label for="kind-{kind}">' in eu
        assert f'aria-describedby="kind-{kind}-hint"' in eu and f'id="kind-{kind}-hint"' in eu
    assert "<fieldset" in eu and "<legend>What do you want to ask for?</legend>" in eu


def test_bad_input_comes_back_by_its_fields_and_stores_nothing(centre: Centre) -> None:
    answer = centre.submit("en", kind="", email="")
    assert answer.status_code == 422
    page = answer.text
    assert 'class="error-summary" role="alert"' in page and "autofocus" in page
    assert '<a href="#email">Enter your e-mail address.</a>' in page
    assert '<a href="#kind-access">Choose what you want to ask for.</a>' in page
    assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in page
    assert '<p class="field-error" id="email-error">' in page
    assert page.startswith("<!doctype html>") and "<title>Error: " in page

    answer = centre.submit("en", kind="opt_out_sale_sharing", email="someone@example.com")
    assert answer.status_code == 422
    assert "This request cannot be made where you live." in answer.text
    assert 'value="someone@example.com"' in answer.text  # what was typed is kept

    answer = centre.submit("en", kind="access", email="a@b", details="x" * 5001)
    assert answer.status_code == 422
    assert "Enter an e-mail address in the form name@example.com." in answer.text
    assert "Shorten this to at most 5,000 characters." in answer.text

    answer = centre.submit("de", kind="access", jurisdiction="mars", email="a@example.com")
    assert answer.status_code == 422 and "Wählen Sie, wo Sie wohnen." in answer.text
    assert centre.requests_stored() == 0 and outbox(centre.store) == []


def test_a_correction_needs_what_and_how(centre: Centre) -> None:
    person = known_person()
    empty = centre.submit("en", kind="rectification", email=person.email)
    assert empty.status_code == 422
    assert "Tell us which data is wrong and what it should say." in empty.text
    half = centre.submit(
        "en", kind="rectification", email=person.email, **{"fix-2-field": "user.name.last"}
    )
    assert half.status_code == 422
    assert '<a href="#fix-2-value">Write what it should say.</a>' in half.text
    forged = centre.submit(
        "en",
        kind="rectification",
        email=person.email,
        **{"fix-1-field": "user.contact.email", "fix-1-value": "x@example.com"},
    )
    assert forged.status_code == 422  # only the offered categories
    assert centre.requests_stored() == 0
    done = centre.submit(
        "en",
        kind="rectification",
        email=person.email,
        **{"fix-1-field": "user.name.last", "fix-1-value": "Nordmann"},
    )
    assert done.status_code == 303
    request_id, _ = ids_of(done.headers["location"])
    with centre.store.reader() as session:
        req = session.get(DataRequest, request_id)
        assert req is not None
        assert service.private_of(session, req).corrections == {"user.name.last": "Nordmann"}


# --- the form guard ---------------------------------------------------------------------------


def test_forms_from_elsewhere_are_refused_and_store_nothing(centre: Centre) -> None:
    fields = {"lang": "en", "jurisdiction": "eu", "kind": "erasure", "email": "victim@example.com"}
    client = centre.client
    no_token = client.post("/privacy/requests", data=fields)
    assert no_token.status_code == 400 and "The form has expired" in no_token.text
    _, token = centre.form()
    forged = client.post("/privacy/requests", data={**fields, "csrf": "A" * 43})
    assert forged.status_code == 400
    cross_site = client.post(
        "/privacy/requests",
        data={**fields, "csrf": token},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 400
    other_origin = client.post(
        "/privacy/requests",
        data={**fields, "csrf": token},
        headers={"Origin": "https://evil.example"},
    )
    assert other_origin.status_code == 400
    odd = client.post("/privacy/requests", data={**fields, "csrf": "ø.æ"})
    assert odd.status_code == 400
    client.cookies.clear()  # a token without the cookie it belongs to
    assert client.post("/privacy/requests", data={**fields, "csrf": token}).status_code == 400
    assert centre.requests_stored() == 0 and outbox(centre.store) == []
    # the same form from this site goes through
    _, token = centre.form()
    ours = client.post(
        "/privacy/requests",
        data={**fields, "csrf": token},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert ours.status_code == 303 and centre.requests_stored() == 1


def test_the_form_cookie_is_httponly_and_scoped(centre: Centre) -> None:
    answer = centre.client.get("/privacy/requests")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/privacy/requests" in cookie
    assert "samesite=lax" in cookie.lower()
    assert answer.headers["cache-control"] == "no-store"


# --- never telling whether an address is known -------------------------------------------------


def test_known_and_unknown_addresses_get_the_same_pages(centre: Centre) -> None:
    person = known_person()
    answers = [centre.submit("nb", kind="access", email=e) for e in (person.email, UNKNOWN)]
    assert [a.status_code for a in answers] == [303, 303]
    locations = [a.headers["location"] for a in answers]
    shapes = {re.sub(r"[0-9a-f-]{36}|token=[\w-]+", "…", where) for where in locations}
    assert len(shapes) == 1
    varying = [value for where in locations for value in ids_of(where)]
    pages = [centre.client.get(where).text for where in locations]
    first, second = same_but_ids(*pages, *varying)
    assert first == second and "Bekreft forespørselen din" in first
    run_jobs(centre.store)
    assert len(mails_to(centre.store, person.email)) == len(mails_to(centre.store, UNKNOWN))
    wrong = [centre.post_code(where, "12345678", "nb") for where in locations]
    assert [w.status_code for w in wrong] == [400, 400]
    first, second = same_but_ids(wrong[0].text, wrong[1].text, *varying)
    assert first == second and "Koden er ikke riktig." in first


def test_bad_links_all_get_one_answer(centre: Centre) -> None:
    sent = centre.submit("en", kind="access", email=UNKNOWN)
    request_id, token = ids_of(sent.headers["location"])
    answers = [
        centre.client.get(f"/privacy/requests/{request_id}", params={"token": "x" * 32}),
        centre.client.get("/privacy/requests/no-such-request", params={"token": token}),
        centre.client.get(f"/privacy/requests/{request_id}"),
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1 and "This link is not valid" in answers[0].text


# --- codes ------------------------------------------------------------------------------------


def test_codes_wrong_locked_resent_and_right(centre: Centre) -> None:
    person = known_person()
    location = centre.submit("en", kind="access", email=person.email).headers["location"]
    run_jobs(centre.store)
    empty = centre.post_code(location, "  ")
    assert empty.status_code == 400 and "Enter the code from the e-mail." in empty.text
    for _ in range(verification.MAX_ATTEMPTS - 1):
        wrong = centre.post_code(location, "00000000")
        assert wrong.status_code == 400
        assert "This code is not right." in wrong.text
        assert 'aria-describedby="code-hint code-error" aria-invalid="true"' in wrong.text
    locked = centre.post_code(location, "00000000")
    assert locked.status_code == 429
    assert "Too many wrong codes. Wait 15 minutes, then try again." in locked.text
    # the right code does not open a lock; a new code cannot be sent while locked
    right = latest_code(centre.store, person.email)
    assert centre.post_code(location, right).status_code == 429
    refused = centre.post_resend(location)
    assert refused.status_code == 429
    assert "We cannot send more codes for this request now." in refused.text


def test_a_new_code_then_the_status(centre: Centre) -> None:
    person = known_person()
    location = centre.submit("en", kind="access", email=person.email).headers["location"]
    run_jobs(centre.store)
    first = latest_code(centre.store, person.email)
    resent = centre.post_resend(location)
    assert resent.status_code == 303
    page = centre.client.get(resent.headers["location"])
    assert "We have sent you a new code. Use the newest one." in page.text
    run_jobs(centre.store)
    second = latest_code(centre.store, person.email)
    assert centre.post_code(location, first).status_code == 400
    done = centre.post_code(location, f" {second[:4]} {second[4:]} ")  # spaces are forgiven
    assert done.status_code == 303
    status = centre.client.get(location).text
    assert "In progress" in status and "Confirm your request" not in status
    run_jobs(centre.store)
    status = centre.client.get(location).text
    assert "Completed" in status and "We have e-mailed you a link to download it." in status
    assert "The link works once, until" in status
    mail = next(m for m in mails_to(centre.store, person.email) if "/download/" in str(m))
    url = link_in(mail, DOWNLOAD_LINK)
    assert click_download(centre.client, url).content[:2] == b"PK"
    assert "The download link was used on" in centre.client.get(location).text


def test_the_california_opt_out_needs_no_code(centre: Centre) -> None:
    _, token = centre.form("en", jurisdiction="us-ca")
    answer = centre.client.post(
        "/privacy/requests",
        data={
            "csrf": token,
            "lang": "en",
            "jurisdiction": "us-ca",
            "kind": "opt_out_sale_sharing",
            "email": UNKNOWN,
            "language": "en",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = centre.client.get(answer.headers["location"]).text
    assert "Confirm your request" not in page and "In progress" in page
    run_jobs(centre.store)
    page = centre.client.get(answer.headers["location"]).text
    assert "We no longer sell or share your personal information." in page
    subjects = [str(m["Subject"]) for m in mails_to(centre.store, UNKNOWN)]
    assert subjects and not any(s.startswith("Confirm your privacy request") for s in subjects)


# --- rate limits and the JSON route ---------------------------------------------------------


@pytest.fixture
def strict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Centre]:
    limits = ApiSettings(public_rate=0.01, public_burst=3)
    yield from build_centre(tmp_path, monkeypatch, api_settings=limits)


def test_pages_are_rate_limited_with_a_page(strict: Centre) -> None:
    for _ in range(3):
        assert strict.client.get("/privacy/requests", params={"lang": "nb"}).status_code == 200
    limited = strict.client.get("/privacy/requests", params={"lang": "nb"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.headers["content-type"].startswith("text/html")
    assert '<html lang="nb"' in limited.text and "For mange forespørsler" in limited.text
    assert strict.client.post("/privacy/requests", data={}).status_code == 429
    assert strict.requests_stored() == 0


def test_the_json_resend_answers_the_same_whatever_happens(centre: Centre) -> None:
    person = known_person()
    made = centre.client.post(
        "/v1/requests", json={"kind": "access", "email": person.email, "country": "NO"}
    ).json()
    run_jobs(centre.store)
    before = len(mails_to(centre.store, person.email))
    answers = [
        centre.client.post(f"/v1/requests/{made['id']}/resend", json={"token": made["token"]}),
        centre.client.post(f"/v1/requests/{made['id']}/resend", json={"token": "x" * 32}),
        centre.client.post("/v1/requests/no-such-request/resend", json={"token": made["token"]}),
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1
    run_jobs(centre.store)
    assert len(mails_to(centre.store, person.email)) == before + 1
    for _ in range(verification.MAX_SENDS + 1):  # past the cap: still 202, no more mail
        again = centre.client.post(
            f"/v1/requests/{made['id']}/resend", json={"token": made["token"]}
        )
        assert again.status_code == 202 and again.text == answers[0].text
    run_jobs(centre.store)
    codes = [m for m in mails_to(centre.store, person.email) if code_in(m)]
    assert len(codes) == verification.MAX_SENDS


def test_a_form_left_open_too_long_expires(centre: Centre, monkeypatch: pytest.MonkeyPatch) -> None:
    _, token = centre.form("nl")
    later = formguard._now() + formguard.FORM_TTL_SECONDS + 60
    monkeypatch.setattr(formguard, "_now", lambda: later)
    fields = {"csrf": token, "lang": "nl", "jurisdiction": "eu", "kind": "access"}
    stale = centre.client.post("/privacy/requests", data={**fields, "email": UNKNOWN})
    assert stale.status_code == 400 and "Het formulier is verlopen" in stale.text
    _, fresh = centre.form("nl")  # the page gives a new token, with the same cookie
    answer = centre.client.post(
        "/privacy/requests",
        data={**fields, "csrf": fresh, "email": UNKNOWN},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and centre.requests_stored() == 1


# --- objections -----------------------------------------------------------------------------


def test_an_objection_names_the_uses_objected_to(centre: Centre) -> None:
    page, _ = centre.form("nb", jurisdiction="eu")
    offered = set(re.findall(r'name="object:([\w.]+)"', page))
    assert offered == set(objectable_purposes(centre.manifest))
    assert "<legend>Hva protesterer du mot?</legend>" in page
    assert centre.manifest.purpose_name("marketing.events", "nb") in page
    person = known_person()
    chosen = {"object:marketing.events": "1", "object:analytics.product_improvement": "1"}
    answer = centre.submit(
        "en", kind="objection", email=person.email, **chosen, **{"object:not.a.purpose": "1"}
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    run_jobs(centre.store)
    assert centre.post_code(location, latest_code(centre.store, person.email)).status_code == 303
    run_jobs(centre.store)
    request_id, _ = ids_of(location)
    with centre.store.reader() as session:
        req = session.get(DataRequest, request_id)
        assert req is not None and req.state == "completed"
        limits = active_limits(session, vault_subject(req.subject_id))
    assert limits["objection"] == {"marketing.events", "analytics.product_improvement"}
    assert not limits["restriction"]
