"""What a person reads after a request: the package's index, the erasure mail and the mailed
download link's pages, in their language and in words (no column paths, no secrets, no JSON).
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from decimal import Decimal
from email.header import decode_header, make_header

from babel.numbers import format_currency
from centresupport import Centre, known_person, visible_text
from flowsupport import (
    DOWNLOAD_LINK,
    body,
    click_download,
    latest_code,
    link_in,
    mails_to,
    run_jobs,
    wording_problems,
)
from sqlalchemy import update

from pledge.requests.tables import RequestPackage
from pledge.store.tables import utcnow


def confirmed(centre: Centre, kind: str, lang: str, email: str) -> str:
    """Ask in the centre in `lang`, confirm with the mailed code, run the work; the status
    page's address."""
    location = centre.submit(lang, kind=kind, email=email).headers["location"]
    run_jobs(centre.store)
    assert centre.post_code(location, latest_code(centre.store, email), lang).status_code == 303
    run_jobs(centre.store)
    return location


def test_the_erasure_mail_in_norwegian_names_what_was_kept_why_and_until_when(
    centre: Centre,
) -> None:
    person = known_person("NO")
    confirmed(centre, "erasure", "nb", person.email)
    mails = mails_to(centre.store, person.email)
    done = [m for m in mails if "er fullført" in str(make_header(decode_header(m["Subject"])))]
    assert len(done) == 1
    text = body(done[0])
    assert "Vi har slettet disse opplysningene om deg:" in text
    assert "Vi har beholdt noen opplysninger, fordi loven eller et av formålene" in text
    # what (the taxonomy's words), where (the system's name), why (the retention rule's own
    # reason) and until when (its period), in Norwegian
    flat = " ".join(text.split())
    assert "Betalingsopplysninger" in flat
    assert "Hvorfor: Skatte- og selskapsretten krever at vi oppbevarer fakturaer" in flat
    assert "Til: 7 år etter at vi samlet dem inn." in flat
    for raw in ("total_cents", "billing/invoices", "invoices:", "user.payment"):
        assert raw not in text
    assert not wording_problems(text), wording_problems(text)
    html = done[0].get_payload()[1].get_payload(decode=True).decode()
    assert "Hvorfor: Skatte- og selskapsretten krever" in html


def test_the_download_link_survives_a_scanner_and_a_second_click(centre: Centre) -> None:
    person = known_person("NO")
    confirmed(centre, "access", "nb", person.email)
    mail = next(m for m in mails_to(centre.store, person.email) if "/download/" in body(m))
    url = link_in(mail, DOWNLOAD_LINK)
    client = centre.client
    # opened by a scanner (twice, no cookie): a page in Norwegian; nothing spent
    for _ in range(2):
        page = client.get(url, cookies={})
        assert page.status_code == 200 and page.headers["content-language"] == "nb"
        assert "Last ned opplysningene dine" in page.text and 'method="post"' in page.text
    # a post from elsewhere (no form token of ours) spends nothing either
    forged = client.post(url, data={"csrf": "1.forged"})
    assert forged.status_code == 400 and "application/zip" not in forged.headers["content-type"]
    zipped = click_download(client, url)
    assert zipped.headers["content-type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(zipped.content)).testzip() is None
    # the second click: a friendly page in Norwegian saying how to get a new link
    again = client.get(url)
    assert again.status_code == 410 and again.headers["content-type"].startswith("text/html")
    said = visible_text(again.text, "nb")
    assert "Denne nedlastingslenken er brukt" in said and "Slik får du en ny lenke" in said
    assert "/privacy/requests?lang=nb" in again.text
    pressed = client.post(url, data={"csrf": re.search(r'"csrf" value="([^"]*)"', page.text)[1]})
    assert pressed.status_code in (400, 410) and pressed.headers["content-type"].startswith(
        "text/html"
    )
    # an unknown link: a page too, never JSON
    unknown = client.get(url[:-6] + "xxxxxx")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")


def test_an_expired_link_says_when_it_ended_and_how_to_get_a_new_one(centre: Centre) -> None:
    person = known_person("NO")
    confirmed(centre, "access", "en", person.email)
    mail = next(m for m in mails_to(centre.store, person.email) if "/download/" in body(m))
    url = link_in(mail, DOWNLOAD_LINK)
    with centre.store.transaction() as session:
        session.execute(update(RequestPackage).values(expires_at=utcnow() - timedelta(days=1)))
    page = centre.client.get(url)
    assert page.status_code == 410
    said = visible_text(page.text, "en")
    assert "This download link has expired" in said and "How to get a new link" in said
    assert "Write to us and give the reference R-" in said


def test_the_english_index_names_fields_and_writes_values_for_people(centre: Centre) -> None:
    person = known_person("NO")
    confirmed(centre, "access", "en", person.email)
    mail = next(m for m in mails_to(centre.store, person.email) if "/download/" in body(m))
    content = click_download(centre.client, link_in(mail, DOWNLOAD_LINK)).content
    archive = zipfile.ZipFile(io.BytesIO(content))
    index = archive.read("index.html").decode()
    assert "<h3>Address</h3>" in index and '<th scope="col">Email address</th>' in index
    assert "Not shown, for your security: Login credentials." in index
    # yes or no, dates and amounts as people write them
    assert re.search(r"[>·] (Yes|No) [·<]|<td>(Yes|No)</td>", index)
    assert not re.search(r"\b(True|False|true|false)\b", index)
    assert not re.search(r"<td>\d{4}-\d\d-\d\d", index), "an ISO date in the index"
    assert re.search(r"<td>[A-Z][a-z]{2} \d{1,2}, \d{4}", index), "no date written out"
    invoices = archive.read("csv/billing__billing.invoices.csv").decode().splitlines()
    cents = int(invoices[1].split(",")[invoices[0].split(",").index("total_cents")])
    currency = invoices[1].split(",")[invoices[0].split(",").index("currency")]
    assert format_currency(Decimal(cents).scaleb(-2), currency, locale="en") in index
    words = visible_text(re.sub(r"<td>.*?</td>", "", index), "en")
    assert not wording_problems(words), wording_problems(words)
