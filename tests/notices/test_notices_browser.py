"""The notice site in headless Chromium: layout at desktop, phone and 200 % zoom, TOC, print.

Screenshots of the general notice (en, nb; 1280 and 375 px wide) go to $PLEDGE_SCREENSHOT_DIR
when it is set (CI keeps them), else to a temporary folder.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from noticeutil import EXAMPLE, TINY

from browsersupport import chromium
from pledge.manifest.load import load_manifest
from pledge.notices.site import build_site

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    manifest = load_manifest(EXAMPLE if EXAMPLE.exists() else TINY)
    return build_site(manifest, tmp_path_factory.mktemp("site") / "site")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("PLEDGE_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return Path(folder)
    return tmp_path_factory.mktemp("screenshots")


def open_page(browser: Any, site: Path, page: str, width: int, height: int = 900) -> Any:
    tab = browser.new_page(viewport={"width": width, "height": height})
    tab.goto((site / page).as_uri())
    return tab


def notices(site: Path, lang: str) -> list[str]:
    found = sorted(
        f"{lang}/{p.name}"
        for p in (site / lang).glob("*.html")
        if p.stem not in ("index", "history")
    )
    assert found, f"the site has no notices in {lang}"  # the loops below would check nothing
    return found


@pytest.mark.parametrize("lang", ["en", "nb"])
@pytest.mark.parametrize("width", [1280, 375])
def test_screenshots(browser: Any, site: Path, shots: Path, lang: str, width: int) -> None:
    first = (
        "general.html"
        if (site / lang / "general.html").exists()
        else Path(notices(site, lang)[0]).name
    )
    tab = open_page(browser, site, f"{lang}/{first}", width)
    try:
        target = shots / f"notice-{lang}-{width}.png"
        tab.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 10_000
        assert tab.evaluate("document.documentElement.lang") == lang
    finally:
        tab.close()


@pytest.mark.parametrize("lang", ["en", "nb"])
@pytest.mark.parametrize("width", [375, 640])
def test_no_horizontal_scrolling(browser: Any, site: Path, lang: str, width: int) -> None:
    """Phones (375 px) and 200 % zoom of a 1280 px window (640 CSS px) never scroll sideways."""
    tab = browser.new_page(viewport={"width": width, "height": 900})
    try:
        for page in [
            *notices(site, lang),
            f"{lang}/index.html",
            f"{lang}/history.html",
            "index.html",
        ]:
            tab.goto((site / page).as_uri())
            scroll, client = tab.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert scroll <= client, f"{page} at {width}px: {scroll} > {client}"
    finally:
        tab.close()


@pytest.mark.parametrize("lang", ["en", "nb"])
def test_contents_links_land_on_their_sections(browser: Any, site: Path, lang: str) -> None:
    tab = browser.new_page(viewport={"width": 375, "height": 700})
    try:
        for page in notices(site, lang):
            tab.goto((site / page).as_uri())
            targets = tab.eval_on_selector_all(".toc a", "links => links.map(a => a.hash.slice(1))")
            assert targets, f"{page}: no table of contents"
            for target in targets:
                assert tab.locator(f"#{target}").count() == 1, f"{page}: #{target} missing"
                tab.click(f'.toc a[href="#{target}"]')
                top = tab.evaluate(
                    f"document.getElementById('{target}').getBoundingClientRect().top"
                )
                assert -2 <= top <= 20, f"{page}: #{target} scrolled to {top}"
                assert tab.evaluate("location.hash") == f"#{target}"
                tab.evaluate("window.scrollTo(0, 0)")
    finally:
        tab.close()


@pytest.mark.parametrize("lang", ["en", "nb"])
def test_headings_in_order_and_language(browser: Any, site: Path, lang: str) -> None:
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        for page in [*notices(site, lang), f"{lang}/history.html", f"{lang}/index.html"]:
            tab.goto((site / page).as_uri())
            assert tab.evaluate("document.documentElement.lang") == lang
            levels = tab.eval_on_selector_all(
                "h1, h2, h3, h4, h5, h6", "hs => hs.map(h => Number(h.tagName[1]))"
            )
            assert levels[0] == 1 and levels.count(1) == 1, page
            for before, after in itertools.pairwise(levels):
                assert after <= before + 1, f"{page}: h{after} after h{before}"
            assert tab.evaluate("document.scripts.length") == 0
    finally:
        tab.close()


def test_skip_link_and_print_styles(browser: Any, site: Path) -> None:
    page = notices(site, "en")[0]
    tab = open_page(browser, site, page, 1280)
    try:
        tab.keyboard.press("Tab")
        focused = tab.evaluate(
            "[document.activeElement.className, document.activeElement.getBoundingClientRect().top]"
        )
        assert focused[0] == "skip-link" and focused[1] >= 0
        tab.emulate_media(media="print")
        assert tab.evaluate("getComputedStyle(document.querySelector('.toc')).display") == "none"
        assert (
            tab.evaluate("getComputedStyle(document.querySelector('.languages')).display") == "none"
        )
    finally:
        tab.close()
