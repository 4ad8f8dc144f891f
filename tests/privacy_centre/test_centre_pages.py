"""Every page of the centre in every language: linked together, negotiated, and in nb and nl
without a word of the centre's own English left."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po
from centresupport import LANGUAGES, Centre, ids_of, known_person, visible_text
from flowsupport import latest_code, run_jobs

from pledge.manifest.lint.languages import texts
from pledge.manifest.model import Manifest
from pledge.requests.render import LOCALES, catalog


def english_pieces(lang: str) -> list[str]:
    """The centre's English strings whose translation differs, as pieces worth looking for."""
    translated = catalog(lang)
    with (LOCALES / "requests.pot").open("rb") as handle:
        template = read_po(handle)
    pieces = []
    for message in template:
        msgid = str(message.id)
        if not msgid or translated.gettext(msgid) == msgid:
            continue
        for piece in re.split(r"%\(\w+\)s", msgid):
            piece = piece.strip(" :;,.()–")
            if len(piece) > 3:
                pieces.append(piece)
    return pieces


def own_texts(manifest: Manifest, lang: str) -> str:
    """The manifest's own prose in `lang` (it may use a word the centre also uses in English)."""
    found = [text.text(lang, manifest.default_language) for _, text in texts(manifest)]
    return " ".join([*found, manifest.organization.name])


def every_page(centre: Centre, lang: str) -> dict[str, str]:
    """Each kind of page of the centre in `lang`, as a person meets them."""
    client = centre.client
    pages = {
        "front": client.get("/privacy", params={"lang": lang}).text,
        "form": centre.form(lang)[0],
        "form (California)": centre.form(lang, jurisdiction="us-ca")[0],
        "choices": client.get("/privacy/choices", params={"lang": lang}).text,
    }
    bad = centre.submit(lang, kind="rectification", email="not an address", **{"fix-1-value": "x"})
    assert bad.status_code == 422
    pages["form with errors"] = bad.text
    person = known_person()
    sent = centre.submit(lang, kind="access", email=person.email)
    assert sent.status_code == 303
    status_url = sent.headers["location"]
    pages["code"] = client.get(status_url).text
    run_jobs(centre.store)
    wrong = centre.post_code(status_url, "00000000", lang)
    assert wrong.status_code == 400
    pages["wrong code"] = wrong.text
    done = centre.post_code(status_url, latest_code(centre.store, person.email), lang)
    assert done.status_code == 303
    pages["in progress"] = client.get(done.headers["location"]).text
    run_jobs(centre.store)
    pages["completed"] = client.get(done.headers["location"]).text
    request_id, _ = ids_of(status_url)
    pages["invalid link"] = client.get(
        f"/privacy/requests/{request_id}", params={"lang": lang}
    ).text
    pages["expired form"] = client.post("/privacy/requests", data={"lang": lang}).text
    return pages


@pytest.mark.parametrize("lang", LANGUAGES)
def test_front_page_links_the_whole_centre(centre: Centre, lang: str) -> None:
    answer = centre.client.get("/privacy", params={"lang": lang})
    assert answer.status_code == 200
    assert answer.headers["content-language"] == lang
    page = answer.text
    assert f'<html lang="{lang}"' in page
    for notice in centre.manifest.notices:
        for code in centre.manifest.languages:
            assert f'href="/notices/{notice}?lang={code}"' in page, (notice, code)
    for link in ("/privacy/choices", "/privacy/requests", "/notices/"):
        assert f'href="{link}?lang={lang}"' in page
    assert page.count("<h1") == 1
    assert 'class="skip-link" href="#main"' in page and '<main id="main"' in page
    assert "<script" not in page  # the CSP forbids inline scripts; the centre needs none
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert stylesheet is not None
    css = centre.client.get(stylesheet.group(1))
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_language_comes_from_accept_language(centre: Centre) -> None:
    answer = centre.client.get("/privacy", headers={"Accept-Language": "nl-BE, nl;q=0.9, en;q=0.5"})
    assert answer.headers["content-language"] == "nl" and '<html lang="nl"' in answer.text
    form = centre.client.get("/privacy/requests", headers={"Accept-Language": "nb-NO"})
    assert '<html lang="nb"' in form.text and "Hvor bor du?" in form.text
    unknown = centre.client.get("/privacy", headers={"Accept-Language": "sv"})
    assert unknown.headers["content-language"] == "en"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_renders_in_every_language(centre: Centre, lang: str) -> None:
    for name, page in every_page(centre, lang).items():
        assert f'<html lang="{lang}"' in page, name
        assert page.count("<h1") == 1, name


@pytest.mark.parametrize("lang", ["nb", "nl"])
def test_no_english_left_in_nb_and_nl(centre: Centre, lang: str) -> None:
    own = own_texts(centre.manifest, lang)
    pieces = [p for p in english_pieces(lang) if p not in own]
    assert len(pieces) > 150
    for name, page in every_page(centre, lang).items():
        text = visible_text(page, lang)
        for piece in pieces:
            assert not re.search(rf"(?<!\w){re.escape(piece)}(?!\w)", text), f"{name}: {piece!r}"


def test_status_page_speaks_the_requests_language(centre: Centre) -> None:
    """The mail's link has no ?lang=: the page answers in the language the request was made in."""
    sent = centre.submit("nl", kind="access", email=known_person().email)
    location = sent.headers["location"].replace("lang=nl&", "")
    assert "lang=" not in location
    page = centre.client.get(location, headers={"Accept-Language": "en"})
    assert '<html lang="nl"' in page.text and "Bevestig uw verzoek" in page.text
