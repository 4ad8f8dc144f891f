"""`pledge dpv`: the manifest as JSON-LD in DPV, read back as RDF with pyld (no network)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from metautil import FIXTURE
from pyld import jsonld

from pledge.manifest.load import load_manifest
from pledge.manifest.model import Manifest
from pledge.notices.dpv import DPV, DPV_GDPR, DPV_LOC, dumps, to_jsonld

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDF_VALUE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#value"
XSD_DURATION = "http://www.w3.org/2001/XMLSchema#duration"
BASE = "https://acme.example/pledge/"

Graph = dict[str, dict[str, set[str]]]


def no_network(url: str, options: Any = None) -> Any:
    raise AssertionError(f"the JSON-LD document tried to load {url}")


def triples(document: dict[str, Any]) -> Graph:
    """subject → predicate → objects (IRIs, blank nodes, or literal values)."""
    dataset = jsonld.to_rdf(document, {"documentLoader": no_network})
    graph: Graph = defaultdict(lambda: defaultdict(set))
    for triple in dataset["@default"]:
        graph[triple["subject"]["value"]][triple["predicate"]["value"]].add(
            triple["object"]["value"]
        )
    return graph


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest(FIXTURE / "pledge.yaml")


@pytest.fixture(scope="module")
def graph(manifest: Manifest) -> Graph:
    return triples(json.loads(dumps(manifest)))


def handling(system: str, purpose: str) -> str:
    return f"{BASE}handling/{system}/{purpose}"


def test_the_context_is_embedded(manifest: Manifest) -> None:
    document = to_jsonld(manifest)
    assert isinstance(document["@context"], dict)
    assert document["@context"]["dpv"] == DPV
    expanded = jsonld.expand(document, {"documentLoader": no_network})
    assert expanded and all("@id" in node for node in expanded)


def test_every_system_and_purpose_is_a_personal_data_handling(
    manifest: Manifest, graph: Graph
) -> None:
    assert manifest.systems
    for key, system in manifest.systems.items():
        assert system.purposes
        for purpose in system.purposes:
            node = graph[handling(key, purpose)]
            assert f"{DPV}PersonalDataHandling" in node[RDF_TYPE]
            assert node[f"{DPV}hasPurpose"] == {f"{BASE}purpose/{purpose}"}
            personal = {
                f"{BASE}category/{c}"
                for col in system.collects
                if purpose in col.purposes
                for c in col.categories
                if manifest.is_personal(c)
            }
            assert node[f"{DPV}hasPersonalData"] == personal
            subjects = {f"{BASE}subject/{s}" for s in system.subjects}
            assert node[f"{DPV}hasDataSubject"] == subjects
            assert node[f"{DPV}hasDataController"]
            assert node[f"{DPV}hasStorageCondition"]
        assert graph[f"{BASE}system/{key}"][f"{DPV}hasProcess"] == {
            handling(key, p) for p in system.purposes
        }


def test_legal_bases_are_gdpr_terms(graph: Graph) -> None:
    bases = graph[handling("accounts", "essential.service.operations")][f"{DPV}hasLegalBasis"]
    assert f"{DPV_GDPR}A6-1-b" in bases
    security = graph[handling("accounts", "essential.service.security")][f"{DPV}hasLegalBasis"]
    assert f"{DPV_GDPR}A6-1-f" in security
    consent = graph[handling("telemetry", "analytics.product_improvement")]
    assert f"{DPV_GDPR}A6-1-a" in consent[f"{DPV}hasLegalBasis"]


def test_controller_and_processor_roles(graph: Graph) -> None:
    organization = f"{BASE}organization"
    own = graph[handling("accounts", "essential.service.operations")]
    assert own[f"{DPV}hasDataController"] == {organization}
    hosted = graph[handling("hosted_content", "essential.service.operations")]
    assert hosted[f"{DPV}hasDataProcessor"] == {organization}
    (customer,) = hosted[f"{DPV}hasDataController"]
    assert customer != organization
    assert f"{DPV}DataController" in graph[customer][RDF_TYPE]
    assert f"{DPV}hasLegalBasis" not in hosted  # the customer's basis, not ours
    assert f"{DPV}DataProtectionOfficer" in graph[f"{BASE}dpo"][RDF_TYPE]


def test_recipients_storage_and_measures(graph: Graph) -> None:
    node = graph[handling("accounts", "essential.service.operations")]
    assert node[f"{DPV}hasRecipient"] == {
        f"{BASE}recipient/cloud_host",
        f"{BASE}recipient/support_desk",
    }
    cloud = graph[f"{BASE}recipient/cloud_host"]
    assert {f"{DPV}Recipient", f"{DPV}DataProcessor"} <= cloud[RDF_TYPE]
    assert f"{DPV}EncryptionAtRest" in node[f"{DPV}hasTechnicalOrganisationalMeasure"]
    conditions = [graph[c] for c in node[f"{DPV}hasStorageCondition"]]
    duration = next(c for c in conditions if f"{DPV}StorageDuration" in c[RDF_TYPE])
    (value_node,) = duration[f"{DPV}hasDuration"]
    assert graph[value_node][RDF_VALUE] == {"P3Y"}
    locations = [c for c in conditions if f"{DPV}StorageLocation" in c[RDF_TYPE]]
    assert locations[0][f"{DPV}hasLocation"] == {f"{DPV_LOC}IE"}


def test_third_country_transfers_carry_their_safeguard(graph: Graph) -> None:
    node = graph[handling("accounts", "essential.service.operations")]
    transfers = [graph[p] for p in node[f"{DPV}hasProcess"]]
    by_country = {
        next(iter(t[f"{DPV}hasThirdCountry"])): t[f"{DPV}hasLegalBasis"] for t in transfers
    }
    assert by_country == {
        f"{DPV_LOC}US": {f"{DPV_GDPR}A46-2-c"},
        f"{DPV_LOC}IN": {f"{DPV_GDPR}A46-2-b"},
    }
    assert all(t[f"{DPV}hasProcessing"] == {f"{DPV}Transfer"} for t in transfers)


def test_duration_is_typed_as_xsd_duration(manifest: Manifest) -> None:
    quads = jsonld.to_rdf(
        to_jsonld(manifest), {"format": "application/n-quads", "documentLoader": no_network}
    )
    assert f'"P13M"^^<{XSD_DURATION}>' in quads


def test_labels_in_every_manifest_language(graph: Graph) -> None:
    labels = graph[f"{BASE}purpose/essential.service.operations"][
        "http://www.w3.org/2004/02/skos/core#prefLabel"
    ]
    assert labels == {"Deliver and operate the services", "Levere og drifte tjenestene"}
