"""Marketing: signed preference links, one-click unsubscribe (RFC 8058), forgery refused."""

from __future__ import annotations

from consentsupport import ConsentApi

from pledge.consent import marketing
from pledge.mail.compose import ONE_CLICK


def _subject_and_token(capi: ConsentApi) -> tuple[str, str]:
    with capi.store.transaction() as session:
        subject = capi.store.vault.find_or_create_subject(session, "email", "ada@example.org")
    return subject, marketing.make_token(capi.store.vault, subject)


def _opt_in(capi: ConsentApi, subject: str) -> None:
    made = capi.client.post(
        "/v1/consent",
        json={
            "mechanism": "api",
            "subject": f"subject:{subject}",
            "language": "en",
            "purposes": {"marketing.communications.email": True},
        },
        headers=capi.auth("service"),
    )
    assert made.status_code == 201, made.text


def _decide(capi: ConsentApi, subject: str, purpose: str) -> bool:
    answer = capi.client.get(
        "/v1/consent/decision",
        params={"subject": f"subject:{subject}", "purpose": purpose},
        headers=capi.auth("service"),
    ).json()
    return bool(answer["allowed"])


def test_one_click_unsubscribe_is_a_post_and_idempotent(capi: ConsentApi) -> None:
    subject, token = _subject_and_token(capi)
    _opt_in(capi, subject)
    assert _decide(capi, subject, "marketing.communications.email")
    url = marketing.unsubscribe_url("http://testserver", token).removeprefix("http://testserver")
    page = capi.client.get(url)  # a link scanner's prefetch changes nothing
    assert page.status_code == 200 and '<form method="post"' in page.text
    assert _decide(capi, subject, "marketing.communications.email")
    done = capi.client.post(
        url, content=ONE_CLICK, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert done.status_code == 200
    assert not _decide(capi, subject, "marketing.communications.email")
    assert not _decide(capi, subject, "marketing.events")  # legitimate interests: objection
    again = capi.client.post(url, content=ONE_CLICK)
    assert again.status_code == 200
    records = capi.client.get(
        f"/v1/consent/subject:{subject}", headers=capi.auth("auditor")
    ).json()["records"]
    assert [r["mechanism"] for r in records] == ["api", "withdrawal"]


def test_forged_or_altered_tokens_are_refused(capi: ConsentApi) -> None:
    subject, token = _subject_and_token(capi)
    body, mac = token.split(".")
    other = marketing.make_token(capi.store.vault, "another-subject-id")
    for bad in (f"{body}.{mac[:-2]}AA", f"{other.split('.')[0]}.{mac}", "garbage", ""):
        assert marketing.read_token(capi.store.vault, bad) is None
        answer = capi.client.post("/privacy/unsubscribe", params={"token": bad}, content=ONE_CLICK)
        assert answer.status_code in (403, 422)
    assert marketing.read_token(capi.store.vault, token) == subject


def test_preference_page_saves_choices_without_login(capi: ConsentApi) -> None:
    subject, token = _subject_and_token(capi)
    page = capi.client.get("/privacy/choices", params={"token": token, "lang": "nl"})
    assert page.status_code == 200 and "Marketingmails" in page.text
    saved = capi.client.post(
        "/privacy/choices",
        params={"token": token},
        content="purpose=marketing.events",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert saved.status_code == 200
    assert _decide(capi, subject, "marketing.events")
    assert not _decide(capi, subject, "marketing.surveys")
    assert capi.client.get("/privacy/choices").status_code == 200
