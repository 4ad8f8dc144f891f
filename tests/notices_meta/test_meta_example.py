"""Completeness on every manifest we ship: the RoPA and DPV cover each system and purpose."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from metautil import FIXTURE
from pyld import jsonld

from pledge.manifest.load import load_manifest
from pledge.notices.dpv import DPV, to_jsonld
from pledge.notices.ropa import build_ropa, render

EXAMPLE = Path(__file__).parents[2] / "examples" / "lumen" / "pledge.yaml"
MANIFESTS = [
    pytest.param(FIXTURE / "pledge.yaml", id="acme"),
    pytest.param(EXAMPLE, id="lumen"),
]


@pytest.mark.parametrize("path", MANIFESTS)
def test_ropa_has_every_system_and_purpose(path: Path) -> None:
    manifest = load_manifest(path)
    rows = list(csv.DictReader(io.StringIO(render(build_ropa(manifest), "csv"))))

    expected_1 = sorted(
        (k, p) for k, s in manifest.systems.items() if s.role == "controller" for p in s.purposes
    )
    found_1 = sorted((r["system"], r["purposes"]) for r in rows if r["record"] == "30(1)")
    names = {(k, p): manifest.purpose_name(p, "en") for k, p in expected_1}
    assert found_1 == sorted((k, names[k, p]) for k, p in expected_1)
    expected_2 = sorted(k for k, s in manifest.systems.items() if s.role == "processor")
    assert sorted(r["system"] for r in rows if r["record"] == "30(2)") == expected_2


@pytest.mark.parametrize("path", MANIFESTS)
def test_dpv_has_every_system_and_purpose(path: Path) -> None:
    manifest = load_manifest(path)
    document = to_jsonld(manifest)

    def no_network(url: str, options: object = None) -> object:
        raise AssertionError(f"tried to load {url}")

    dataset = jsonld.to_rdf(document, {"documentLoader": no_network})
    purposes_of: dict[str, set[str]] = {}
    handlings = {
        t["subject"]["value"]
        for t in dataset["@default"]
        if t["object"]["value"] == f"{DPV}PersonalDataHandling"
    }
    for t in dataset["@default"]:
        if t["predicate"]["value"] == f"{DPV}hasPurpose" and t["subject"]["value"] in handlings:
            purposes_of.setdefault(t["subject"]["value"], set()).add(t["object"]["value"])
    covered = {
        (handling.split("/handling/")[1], purpose.split("/purpose/")[1])
        for handling, purposes in purposes_of.items()
        for purpose in purposes
    }
    expected = {(f"{k}/{p}", p) for k, s in manifest.systems.items() for p in s.purposes}
    assert covered == expected
