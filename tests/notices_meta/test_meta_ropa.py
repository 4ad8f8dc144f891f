"""The Art. 30 record: a row per controller system and purpose, and the processor record."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from metautil import FIXTURE, Edit

from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.notices.ropa import RECORD_CONTROLLER, RECORD_PROCESSOR, Ropa, build_ropa, render


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest(FIXTURE / "pledge.yaml")


@pytest.fixture(scope="module")
def ropa(manifest: Manifest) -> Ropa:
    return build_ropa(manifest)


def controller_pairs(manifest: Manifest) -> set[tuple[str, str]]:
    return {
        (key, purpose)
        for key, system in manifest.systems.items()
        if system.role == "controller"
        for purpose in system.purposes
    }


def processor_systems(manifest: Manifest) -> set[str]:
    return {k for k, s in manifest.systems.items() if s.role == "processor"}


def test_a_row_for_every_controller_system_and_purpose(manifest: Manifest, ropa: Ropa) -> None:
    pairs = {(r.system, r.purpose) for r in ropa.controller_rows}
    assert pairs == controller_pairs(manifest)
    assert len(ropa.controller_rows) == len(pairs) == 3


def test_processor_systems_are_in_the_art_30_2_record_only(manifest: Manifest, ropa: Ropa) -> None:
    assert (
        {r.system for r in ropa.processor_rows} == processor_systems(manifest) == {"hosted_content"}
    )
    row = ropa.processor_rows[0]
    assert row.controller == "Our customer (your employer)"
    assert [p.key for p in row.processing] == ["essential.service.operations"]
    assert {t.country for t in row.transfers} == {"US"}
    assert row.security  # the manifest-wide measures apply


def test_row_content_follows_the_manifest(ropa: Ropa) -> None:
    rows = {(r.system, r.purpose): r for r in ropa.controller_rows}
    operations = rows["accounts", "essential.service.operations"]
    security = rows["accounts", "essential.service.security"]
    telemetry = rows["telemetry", "analytics.product_improvement"]

    assert operations.legal_basis_text == "Contract (Art. 6(1)(b))"
    assert [c.key for c in operations.categories] == ["user.contact.email", "user.name"]
    assert [s.name for s in operations.subjects] == ["Business customer contacts"]
    # support_desk only receives data for operations, so neither it nor India appear for security
    assert {r.key for r in operations.recipients} == {"cloud_host", "support_desk"}
    assert {r.key for r in security.recipients} == {"cloud_host"}
    assert {t.country for t in operations.transfers} == {"US", "IN"}
    assert {t.country for t in security.transfers} == {"US"}
    assert security.legitimate_interest.startswith("Protecting our customers")
    assert operations.security == ("encryption at rest", "access control")
    assert operations.erasure is not None and operations.erasure.keep == "P3Y"
    assert operations.erasure.text.startswith("3 years after the account is closed, then deleted")
    # feature usage is not personal data, so only the IP address is listed
    assert [c.key for c in telemetry.categories] == ["user.device.ip_address"]
    assert telemetry.erasure is not None and "anonymised" in telemetry.erasure.text
    safeguards = {(t.via, t.safeguard) for t in telemetry.transfers}
    assert ("storage and processing location", "dpf") in safeguards
    assert ("Example Cloud", "scc") in safeguards


def test_controller_details(ropa: Ropa) -> None:
    assert ropa.organization.name == "Acme Widgets AS"
    assert ropa.organization.email == "privacy@acme.example"
    assert ropa.dpo is not None and ropa.dpo.email == "dpo@acme.example"
    assert ropa.representative is not None and "eu-rep@acme.example" in ropa.representative.text()
    assert "35 days" in ropa.backups


def test_names_follow_the_language(manifest: Manifest) -> None:
    ropa = build_ropa(manifest, "nb")
    names = {r.system_name for r in ropa.controller_rows}
    assert names == {"Kundekontoer", "Produkttelemetri"}
    assert "Kontaktpersoner hos kunder" in {
        s.name for r in ropa.controller_rows for s in r.subjects
    }
    assert "USA" in {t.country_name for r in ropa.controller_rows for t in r.transfers}


def test_csv_is_one_table_with_a_record_column(manifest: Manifest, ropa: Ropa) -> None:
    rows = list(csv.DictReader(io.StringIO(render(ropa, "csv"))))

    by_record = {(r["record"], r["system"], r["purposes"]) for r in rows}
    assert len(rows) == 4
    assert sum(r["record"] == RECORD_CONTROLLER for r in rows) == 3
    assert [r["system"] for r in rows if r["record"] == RECORD_PROCESSOR] == ["hosted_content"]
    assert (RECORD_CONTROLLER, "accounts", "Keep the services secure") in by_record
    processor = next(r for r in rows if r["record"] == RECORD_PROCESSOR)
    assert processor["controller"] == "Our customer (your employer)"
    assert processor["processor"].startswith("Acme Widgets AS")
    assert all(r["dpo"].startswith("Acme Data Protection Office") for r in rows)


def test_json_is_structured(ropa: Ropa) -> None:
    data = json.loads(render(ropa, "json"))

    assert data["controller"]["name"] == "Acme Widgets AS"
    assert data["dpo"]["email"] == "dpo@acme.example"
    assert len(data["art30_1"]) == 3 and len(data["art30_2"]) == 1
    first = data["art30_1"][0]
    assert first["recipients"][0] == {
        "key": "cloud_host",
        "name": "Example Cloud",
        "kind": "processor",
    }
    assert {"country", "safeguard", "via"} <= set(first["transfers"][0])
    assert data["art30_2"][0]["controller"] == "Our customer (your employer)"


class _Tables(HTMLParser):
    """Collects what the accessibility checks need from the HTML record."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.captions = 0
        self.scopes: list[str | None] = []
        self.body_rows = 0
        self.in_body = False
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        elif tag == "caption":
            self.captions += 1
        elif tag == "th":
            self.scopes.append(found.get("scope"))
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.body_rows += 1
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self.in_body = False


def test_html_is_a_standalone_accessible_page(ropa: Ropa) -> None:
    page = render(ropa, "html")
    parser = _Tables()
    parser.feed(page)

    assert page.startswith("<!doctype html>")
    assert parser.lang == "en"
    assert parser.captions == 2
    assert set(parser.scopes) == {"col", "row"}
    assert parser.body_rows == 4
    assert parser.scripts == 0
    assert "<style>" in page and "@media print" in page
    assert "Keep the services secure" in page and "Our customer (your employer)" in page


def test_html_escapes_manifest_text(manifest_path: Path, edit: Edit) -> None:
    edit("name: Example Cloud", 'name: "Example <b>Cloud</b> & Co"')
    page = render(build_ropa(load_manifest(manifest_path)), "html")
    assert "Example &lt;b&gt;Cloud&lt;/b&gt; &amp; Co" in page
    assert "<b>Cloud</b>" not in page


def test_the_controller_is_named_by_the_organisation_not_its_contact(
    manifest_path: Path, edit: Edit
) -> None:
    edit(
        "contact: {email: privacy@acme.example,",
        "contact: {name: Privacy Team, email: privacy@acme.example,",
    )
    edit(
        "  name: Acme Widgets AS\n",
        "  name: Acme Widgets AS\n  legal_name: Acme Widgets Holding AS\n",
    )
    ropa = build_ropa(load_manifest(manifest_path))
    assert ropa.organization.name == "Acme Widgets Holding AS"
    assert ropa.organization.email == "privacy@acme.example"
