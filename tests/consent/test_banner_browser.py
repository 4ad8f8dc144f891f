"""The banner in headless Chromium against a real server (uvicorn on loopback).

Skipped without Chromium, failed instead with PLEDGE_REQUIRE_SERVICES=1 (as in CI).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from consentsupport import ConsentApi, verify_receipt

from browsersupport import chromium, free_port, serving


@dataclass
class Live:
    url: str
    capi: ConsentApi

    def export(self) -> list[dict[str, Any]]:
        import json

        answer = httpx.get(f"{self.url}/v1/consent/export", headers=self.capi.auth("auditor"))
        return [json.loads(line) for line in answer.text.splitlines()]

    def jwks(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.url}/.well-known/jwks.json").json()
        return result


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def live(capi: ConsentApi) -> Iterator[Live]:
    with serving(capi.app, free_port()) as url:
        yield Live(url, capi)


def _page(browser: Any, locale: str = "en-GB", gpc: bool = False) -> Any:
    options: dict[str, Any] = {"locale": locale}
    if gpc:
        options["extra_http_headers"] = {"Sec-GPC": "1"}
    context = browser.new_context(**options)
    if gpc:
        context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', "
            "{get: () => true, configurable: true});"
        )
    return context.new_page()


def _wait(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll with page.evaluate: the page's CSP forbids the eval wait_for_function uses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def _open_demo(page: Any, live: Live, query: str = "") -> None:
    page.goto(f"{live.url}/consent/demo{query}")
    _wait(page, "!!(window.PledgeConsent && window.PledgeConsent.ready)")
    page.evaluate("window.PledgeConsent.ready")


def _analytics_ran(page: Any) -> bool:
    return bool(page.evaluate("window.pledgeDemoAnalytics === true"))


def _all_receipts_verify(live: Live) -> list[dict[str, Any]]:
    records = live.export()
    jwks = live.jwks()
    for record in records:
        assert verify_receipt(record["receipt"], jwks)["jti"] == record["id"]
    return records


@pytest.mark.parametrize(
    ("locale", "title", "accept"),
    [
        ("en-GB", "Your privacy choices", "Accept all"),
        ("nb-NO", "Dine personvernvalg", "Godta alle"),
        ("nl-NL", "Uw privacykeuzes", "Alles accepteren"),
    ],
)
def test_banner_speaks_the_visitors_language(
    browser: Any, live: Live, locale: str, title: str, accept: str
) -> None:
    page = _page(browser, locale)
    _open_demo(page, live)
    dialog = page.get_by_role("dialog", name=title)
    dialog.wait_for()
    for name in (accept,):
        assert dialog.get_by_role("button", name=name).is_visible()
    # the three choices carry equal weight: same class, same size
    sizes = page.eval_on_selector_all(
        ".pledge-button", "bs => bs.map(b => [b.className, b.offsetHeight])"
    )
    assert len(sizes) == 3 and len({tuple(s) for s in sizes}) == 1
    assert page.evaluate("document.activeElement.id") == "pledge-title"  # focus moved in
    page.context.close()


def test_reject_all_keeps_analytics_off_across_reloads(browser: Any, live: Live) -> None:
    page = _page(browser)
    _open_demo(page, live)
    assert not _analytics_ran(page)
    page.get_by_role("button", name="Reject all").click()
    page.wait_for_selector(".pledge-banner", state="detached")
    assert not _analytics_ran(page)
    _open_demo(page, live)
    assert page.locator(".pledge-banner").count() == 0
    assert not _analytics_ran(page)
    records = _all_receipts_verify(live)
    assert [r["mechanism"] for r in records] == ["reject_all"]
    page.context.close()


def test_accept_all_runs_analytics_and_survives_reload(browser: Any, live: Live) -> None:
    page = _page(browser)
    _open_demo(page, live)
    page.get_by_role("button", name="Accept all").click()
    _wait(page, "window.pledgeDemoAnalytics === true")
    _open_demo(page, live)
    _wait(page, "window.pledgeDemoAnalytics === true")
    assert page.locator(".pledge-banner").count() == 0
    assert [r["mechanism"] for r in _all_receipts_verify(live)] == ["accept_all"]
    page.context.close()


def test_withdrawal_clears_the_categorys_cookies(browser: Any, live: Live) -> None:
    page = _page(browser)
    _open_demo(page, live)
    page.get_by_role("button", name="Accept all").click()
    _wait(page, "document.cookie.includes('_lumen_wa=')")
    page.get_by_role("button", name="Change cookie choices").click()
    page.get_by_label("Analytics").uncheck()
    page.get_by_role("button", name="Save choices").click()
    page.wait_for_selector(".pledge-banner", state="detached")
    assert "_lumen_wa=" not in page.evaluate("document.cookie")
    records = _all_receipts_verify(live)
    assert [r["mechanism"] for r in records] == ["accept_all", "withdrawal"]
    assert records[-1]["choices"]["categories"] == {"analytics": False}
    assert page.evaluate("window.PledgeConsent.state().c.advertising") is True
    page.context.close()


def test_gpc_visitor_is_opted_out_and_told(browser: Any, live: Live) -> None:
    page = _page(browser, gpc=True)
    _open_demo(page, live, "?jurisdiction=us-ca")
    notice = page.locator("#pledge-gpc")
    notice.wait_for()
    assert "Global Privacy Control" in notice.inner_text()
    _wait(page, "window.PledgeConsent.state() !== null")
    page.get_by_role("button", name="Accept all").click()
    page.wait_for_selector(".pledge-banner", state="detached")
    state = page.evaluate("window.PledgeConsent.state()")
    assert state["c"]["advertising"] is False and state["c"]["analytics"] is True
    records = _all_receipts_verify(live)
    assert [r["mechanism"] for r in records] == ["gpc", "accept_all"]
    assert all(r["gpc"] == {"signal": True, "applied": True} for r in records)
    page.context.close()


def test_a_material_change_shows_the_banner_again(browser: Any, live: Live) -> None:
    page = _page(browser)
    _open_demo(page, live)
    page.get_by_role("button", name="Accept all").click()
    page.wait_for_selector(".pledge-banner", state="detached")
    _open_demo(page, live)
    assert page.locator(".pledge-banner").count() == 0
    path = live.capi.manifest_path
    text = path.read_text().replace(
        "\n  # third-party advertising\n",
        "\n  - name: _lumen_new\n    category: analytics\n    type: cookie\n"
        "    purposes: [analytics.web]\n\n  # third-party advertising\n",
    )
    path.write_text(text)
    assert live.capi.holder.reload().ok
    _open_demo(page, live)
    page.locator(".pledge-banner").wait_for()
    assert not _analytics_ran(page)  # the old choice no longer unblocks scripts
    page.context.close()


@pytest.mark.parametrize(("lang", "locale"), [("en", "en-GB"), ("nb", "nb-NO"), ("nl", "nl-NL")])
def test_make_change_and_withdraw_in_each_language(
    browser: Any, live: Live, lang: str, locale: str
) -> None:
    """The done-when of issue 6: every change lands in the log, in the visitor's language,
    with a receipt that verifies against the published keys."""
    config = httpx.get(f"{live.url}/v1/consent/config", params={"lang": lang}).json()
    texts = config["texts"]
    analytics = next(c["name"] for c in config["categories"] if c["id"] == "analytics")
    page = _page(browser, locale)
    _open_demo(page, live, f"?lang={lang}")
    page.get_by_role("button", name=texts["accept_all"]).click()  # make
    _wait(page, "window.pledgeDemoAnalytics === true")
    page.locator("[data-pledge-open]").click()
    page.get_by_label(analytics).uncheck()  # withdraw one category
    page.get_by_role("button", name=texts["save"]).click()
    page.wait_for_selector(".pledge-banner", state="detached")
    page.locator("[data-pledge-open]").click()
    page.get_by_label(analytics).check()  # change it back
    page.get_by_role("button", name=texts["save"]).click()
    page.wait_for_selector(".pledge-banner", state="detached")
    records = _all_receipts_verify(live)
    assert [r["mechanism"] for r in records] == ["accept_all", "withdrawal", "custom"]
    assert {r["language"] for r in records} == {lang}
    assert [r["choices"]["categories"].get("analytics") for r in records] == [True, False, True]
    page.context.close()
