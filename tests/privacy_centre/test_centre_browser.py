"""The privacy centre in headless Chromium against a real server (uvicorn on loopback): a
Norwegian person asks for their data end to end, the pages pass basic accessibility checks,
and nothing scrolls sideways on a 375 px phone.

Skipped without Chromium, failed instead with PLEDGE_REQUIRE_SERVICES=1 (as in CI).
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from apisupport import RELAXED
from centresupport import UNKNOWN, Centre, build_centre, known_person, visible_text
from flowsupport import DOWNLOAD_LINK, latest_code, link_in, mails_to, run_jobs, wording_problems
from sqlalchemy import create_engine, text

from browsersupport import chromium, free_port, serving

pytestmark = pytest.mark.browser

#: What a basic accessibility audit looks for; returns the problems found on the page.
AUDIT = """() => {
  const problems = [];
  const root = document.documentElement;
  if (!root.lang) problems.push('no lang attribute');
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) problems.push(h1 + ' h1 elements');
  if (!document.querySelector('main#main')) problems.push('no main landmark');
  if (!document.querySelector('a.skip-link[href="#main"]')) problems.push('no skip link');
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labels = [...(el.labels || [])].map(l => l.textContent.trim()).join(' ');
    if (!labels && !el.getAttribute('aria-label'))
      problems.push('unlabelled ' + (el.id || el.name));
    if (el.type === 'radio' && !el.closest('fieldset')?.querySelector('legend'))
      problems.push('radio outside a fieldset with a legend: ' + el.id);
  }
  for (const el of document.querySelectorAll('button, a')) {
    if (!el.textContent.trim() && !el.getAttribute('aria-label'))
      problems.push('nameless ' + el.outerHTML);
  }
  for (const el of document.querySelectorAll('[aria-describedby]')) {
    for (const id of el.getAttribute('aria-describedby').split(/\\s+/)) {
      if (!document.getElementById(id)) problems.push('aria-describedby names missing #' + id);
    }
  }
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (twice.length) problems.push('duplicate ids ' + twice.join(','));
  let last = 0;
  for (const h of document.querySelectorAll('h1, h2, h3, h4')) {
    const level = Number(h.tagName[1]);
    if (level > last + 1)
      problems.push('heading jumps to ' + h.tagName + ': ' + h.textContent.trim());
    last = level;
  }
  for (const nav of document.querySelectorAll('nav')) {
    if (!nav.getAttribute('aria-label')) problems.push('unnamed nav');
  }
  return problems;
}"""
SIDEWAYS = "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"


@dataclass
class Live:
    url: str
    centre: Centre


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """The centre on a loopback port; mailed links point at it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    for centre in build_centre(tmp_path, monkeypatch, api_settings=RELAXED, public_url=url):
        with serving(centre.app, port):
            yield Live(url, centre)


def audit(page: Any, where: str) -> None:
    problems = page.evaluate(AUDIT)
    assert not problems, f"{where}: {problems}"


def test_a_norwegian_asks_for_their_data_end_to_end(browser: Any, live: Live) -> None:
    person = known_person("NO")
    store = live.centre.store
    page = browser.new_page(locale="nb-NO", viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{live.url}/privacy")  # the language comes from the browser
        assert page.evaluate("document.documentElement.lang") == "nb"
        assert page.get_by_role("heading", level=1).inner_text() == "Personvernsenter"
        audit(page, "front page")
        page.get_by_role("link", name="Bruk rettighetene dine").click()
        page.get_by_role("heading", name="Send en personvernforespørsel").wait_for()
        audit(page, "form")
        corrections = page.locator("fieldset.corrections")
        assert not corrections.is_visible()  # shown only for a correction (CSS :has)
        page.get_by_label("Retting av personopplysningene dine").check()
        assert corrections.is_visible()

        # an empty address: the error summary takes the focus and names the field
        page.get_by_label("Innsyn i personopplysningene dine").check()
        page.get_by_role("button", name="Send forespørselen").click()
        page.get_by_role("heading", name="Noe må rettes").wait_for()
        assert page.evaluate("document.activeElement.className") == "error-summary"
        assert page.get_by_label("E-postadressen din").get_attribute("aria-invalid") == "true"
        audit(page, "form with errors")

        page.get_by_label("E-postadressen din").fill(person.email)
        assert page.get_by_label("Språk i e-postene fra oss").input_value() == "nb"
        page.get_by_role("button", name="Send forespørselen").click()
        page.get_by_role("heading", name="Bekreft forespørselen din").wait_for()
        audit(page, "code page")

        run_jobs(store)  # the mail job writes the code to the outbox
        page.get_by_label("Koden fra e-posten").fill(latest_code(store, person.email))
        page.get_by_role("button", name="Bekreft", exact=True).click()
        page.get_by_role("heading", name="Forespørselen din", exact=True).wait_for()
        assert "Under behandling" in page.locator("main").inner_text()

        run_jobs(store)  # the worker runs the request: read, package, mail
        page.reload()
        status = page.locator("main").inner_text()
        assert "Fullført" in status
        assert "Opplysningene dine er klare." in status
        assert "Lenken virker én gang, fram til" in status
        audit(page, "status page")

        mail = next(m for m in mails_to(store, person.email) if "/download/" in str(m))
        url = link_in(mail, re.escape(live.url) + DOWNLOAD_LINK)
        # a mail scanner opens the link first (no cookie, no click): it gets the page, and
        # nothing is spent
        scanned = httpx.get(url)
        assert scanned.status_code == 200 and "Last ned filen" in scanned.text
        page.goto(url)
        assert page.evaluate("document.documentElement.lang") == "nb"
        page.get_by_role("heading", name="Last ned opplysningene dine").wait_for()
        audit(page, "download page")
        with page.expect_download() as info:
            page.get_by_role("button", name="Last ned filen").click()
        content = Path(info.value.path()).read_bytes()
        # the second click on the mailed link: a page that says how to get a new one
        page.goto(url)
        page.get_by_role("heading", name="Denne nedlastingslenken er brukt").wait_for()
        spent = page.locator("main").inner_text()
        assert "Slik får du en ny lenke" in spent and "Be om opplysningene dine på nytt" in spent
        audit(page, "spent link page")
    finally:
        page.close()

    archive = zipfile.ZipFile(io.BytesIO(content))
    names = set(archive.namelist())
    assert {"index.html", "data.json", "csv/accounts__accounts.users.csv"} <= names
    assert sum(n.startswith("csv/") and n.endswith(".csv") for n in names) >= 5
    index = archive.read("index.html").decode()
    assert '<html lang="nb">' in index
    assert "Opplysningene dine hos Lumen Systems, Inc." in index
    for label in ("Formål og rettslig grunnlag", "Hvor lenge vi lagrer dem", "Rettighetene dine"):
        assert label in index
    for english in ("Purposes and legal bases", "Your rights", "Categories of data", "None"):
        assert f">{english}<" not in index
    assert person.first in index and person.last in index and person.email in index
    assert_reads_like_a_letter(index, archive)
    data = json.loads(archive.read("data.json"))
    assert data["language"] == "nb" and data["jurisdiction"] == "eu"
    users = next(c for s in data["systems"] for c in s["collections"] if c["collection"] == "users")
    assert [r["email"] for r in users["rows"]] == [person.email]
    assert person.email in archive.read("csv/accounts__accounts.users.csv").decode()
    assert_no_password_hash(archive, person.email)


def assert_reads_like_a_letter(index: str, archive: zipfile.ZipFile) -> None:
    """Headings and field names in Norwegian from the taxonomy; no column, no secret."""
    text = visible_text(index, "nb")
    for heading in ("<h3>Adresse</h3>", '<th scope="col">E-postadresse</th>'):
        assert heading in index
    assert "Ikke vist, av hensyn til sikkerheten din: Påloggingsinformasjon." in text
    data = json.loads(archive.read("data.json"))
    columns = {f for s in data["systems"] for c in s["collections"] for f in c["fields"]}
    shown = [c for c in columns if re.search(rf"(?<![\w.]){re.escape(c)}(?![\w.])", text)]
    assert not [c for c in shown if "_" in c], f"column names in the index: {shown}"
    words = visible_text(re.sub(r"<td>.*?</td>", "", index), "nb")  # the data as it is
    assert not wording_problems(words), wording_problems(words)
    assert "accounts.users" not in text
    assert "password_hash" not in index


def assert_no_password_hash(archive: zipfile.ZipFile, email: str) -> None:
    """The person's password hash is in no file of the package, nor its column."""
    engine = create_engine(os.environ["LUMEN_ACCOUNTS_URL"])
    with engine.connect() as conn:
        secret = conn.execute(
            text("SELECT password_hash FROM users WHERE email = :e"), {"e": email}
        ).scalar_one()
    engine.dispose()
    assert secret
    for name in archive.namelist():
        content = archive.read(name).decode()
        assert secret not in content, name
        if name != "data.json":  # which names data.json says it left out
            assert "password_hash" not in content, name
    data = json.loads(archive.read("data.json"))
    users = next(c for s in data["systems"] for c in s["collections"] if c["collection"] == "users")
    assert "password_hash" not in users["fields"]
    withheld = data["withheld"]
    assert {
        "system": "accounts",
        "collection": "accounts.users",
        "fields": ["password_hash"],
        "categories": ["user.authorization.credentials"],
    } in withheld


def test_pages_fit_a_phone(browser: Any, live: Live) -> None:
    """At 375 px nothing scrolls sideways, on every kind of page of the centre."""
    page = browser.new_page(locale="de-DE", viewport={"width": 375, "height": 800})

    def fits(where: str) -> None:
        scroll, client = page.evaluate(SIDEWAYS)
        assert scroll <= client, f"{where} at 375 px: {scroll} > {client}"
        audit(page, where)

    try:
        for path in ("/privacy", "/privacy/requests", "/privacy/requests?jurisdiction=us-ca"):
            page.goto(live.url + path)
            fits(path)
        page.goto(f"{live.url}/privacy/requests")
        page.get_by_label("Berichtigung Ihrer personenbezogenen Daten").check()
        page.get_by_role("button", name="Anfrage senden").click()
        page.get_by_role("heading", name="Bitte korrigieren Sie Ihre Angaben").wait_for()
        fits("form with errors")
        page.get_by_label("Ihre E-Mail-Adresse").fill(UNKNOWN)
        page.get_by_label("Zu berichtigende Angabe (1)").select_option("user.name.last")
        page.get_by_label("Richtige Angabe (1)").fill("Müller-Lüdenscheidt")
        page.get_by_role("button", name="Anfrage senden").click()
        page.get_by_role("heading", name="Bestätigen Sie Ihre Anfrage").wait_for()
        fits("code page")
        run_jobs(live.centre.store)
        page.get_by_label("Code aus der E-Mail").fill(latest_code(live.centre.store, UNKNOWN))
        page.get_by_role("button", name="Bestätigen", exact=True).click()
        page.get_by_role("heading", name="Ihre Anfrage", exact=True).wait_for()
        fits("status page")
        page.goto(f"{live.url}/privacy/requests/nothing?token=nothing-at-all")
        fits("invalid link")
        page.goto(f"{live.url}/privacy/choices")
        scroll, client = page.evaluate(SIDEWAYS)
        assert scroll <= client, f"choices at 375 px: {scroll} > {client}"
    finally:
        page.close()
