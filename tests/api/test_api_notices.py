"""Notices served in the negotiated language, with the headers caches and readers rely on."""

from __future__ import annotations

import pytest
from apisupport import Api

from pledge.api.negotiate import choose_language, parse_accept_language


@pytest.mark.parametrize(
    ("query", "accept", "served"),
    [
        ("", "", "en"),  # nothing asked: the manifest's first language
        ("", "nb-NO,nb;q=0.9,en;q=0.8", "nb"),
        ("", "de-DE,de;q=0.9,nb;q=0.5", "nb"),  # German is not declared; Bokmål is accepted
        ("", "no", "nb"),  # "no" is Norwegian, and Bokmål is what is meant in practice
        ("", "en;q=0.2, nb;q=0.8", "nb"),
        ("", "fr, *;q=0.1", "en"),
        ("", ";;;,,q=x", "en"),  # malformed: ignored
        ("?lang=nb", "en", "nb"),  # ?lang= wins over the header
        ("?lang=NB", "", "nb"),
        ("?lang=xx", "nb", "en"),  # undeclared: the default, said in Content-Language
    ],
)
def test_language_negotiation(api: Api, query: str, accept: str, served: str) -> None:
    headers = {"Accept-Language": accept} if accept else {}
    response = api.client.get(f"/notices/general{query}", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-language"] == served
    assert "Accept-Language" in response.headers["vary"]
    assert f'<html lang="{served}"' in response.text


def test_nb_notice_is_in_norwegian(api: Api) -> None:
    response = api.client.get("/notices/general?lang=nb")
    assert "Personvernerklæring" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_links_point_at_the_service(api: Api) -> None:
    text = api.client.get("/notices/general?lang=nb").text
    assert 'href="/notices/general?lang=en"' in text
    assert ".html" not in "".join(part.split('"')[0] for part in text.split('href="')[1:])


def test_markdown_and_text_formats(api: Api) -> None:
    md = api.client.get("/notices/general?lang=en&format=md")
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.lstrip().startswith("#")
    txt = api.client.get("/notices/general?format=txt")
    assert txt.headers["content-type"].startswith("text/plain")
    assert api.client.get("/notices/general?format=pdf").status_code == 422


def test_etag_gives_304(api: Api) -> None:
    first = api.client.get("/notices/general?lang=en")
    again = api.client.get(
        "/notices/general?lang=en", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


def test_index_history_privacy_and_gpc(api: Api) -> None:
    index = api.client.get("/notices/", headers={"Accept-Language": "nb"})
    assert index.status_code == 200
    assert 'href="/notices/general?lang=nb"' in index.text
    assert api.client.get("/notices/history?lang=nb").status_code == 200
    privacy = api.client.get("/privacy")
    assert privacy.status_code == 200
    assert "/notices/general?lang=nb" in privacy.text
    assert "privacy@lumen.example" in privacy.text
    gpc = api.client.get("/.well-known/gpc.json")
    assert gpc.status_code == 200
    assert gpc.headers["content-type"] == "application/json"
    assert gpc.json()["gpc"] is True


def test_docs_and_openapi_are_public_and_script_free(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    assert document["info"]["title"] == "Pledge"
    docs = api.client.get("/docs")
    assert docs.status_code == 200
    assert "<script" not in docs.text
    assert "/v1/audit" in docs.text


def test_parse_accept_language_orders_by_weight() -> None:
    assert parse_accept_language("da, en-GB;q=0.8, en;q=0.7") == [
        ("da", 1.0),
        ("en-gb", 0.8),
        ("en", 0.7),
    ]
    assert parse_accept_language("en;q=0") == []
    assert parse_accept_language("x" * 10_000) == []
    assert choose_language(("en", "pt-BR"), None, "pt") == "pt-BR"
