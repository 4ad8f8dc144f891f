"""The manifest as JSON-LD in the W3C Data Privacy Vocabulary (DPV).

A regulator's tools, a consent platform or a partner's RoPA can read DPV; publishing the same
facts the notice states in that vocabulary makes them checkable by machines. Each controller
or processor system and purpose becomes one `dpv:PersonalDataHandling` with its purpose,
personal data, legal basis (the GDPR Art. 6(1) terms of DPV-GDPR), controller, data subjects,
recipients, data sources, storage conditions (retention as an ISO 8601 duration, locations),
technical and organisational measures, and third-country transfers with their Chapter V basis.

Manifest keys become IRIs under the organisation's web site (or `urn:pledge:` without one) and
point to the nearest DPV concept with `skos:exactMatch` or `skos:broader` where one is known.
The context is embedded, so reading the document never needs the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from pledge.manifest.jurisdictions import ADEQUATE, EEA
from pledge.manifest.model import Collect, Contact, Manifest, System
from pledge.manifest.types import LocalText
from pledge.notices.ropa import erasure_words

DPV = "https://w3id.org/dpv#"
DPV_PD = "https://w3id.org/dpv/pd#"
DPV_GDPR = "https://w3id.org/dpv/legal/eu/gdpr#"
DPV_LOC = "https://w3id.org/dpv/loc#"

CONTEXT: dict[str, str] = {
    "dpv": DPV,
    "dpv-pd": DPV_PD,
    "dpv-gdpr": DPV_GDPR,
    "loc": DPV_LOC,
    "dct": "http://purl.org/dc/terms/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "schema": "https://schema.org/",
}

LEGAL_BASES = {
    "consent": "dpv-gdpr:A6-1-a",
    "contract": "dpv-gdpr:A6-1-b",
    "legal_obligation": "dpv-gdpr:A6-1-c",
    "vital_interests": "dpv-gdpr:A6-1-d",
    "public_task": "dpv-gdpr:A6-1-e",
    "legitimate_interests": "dpv-gdpr:A6-1-f",
}
SPECIAL_CONDITIONS = {
    "explicit_consent": "dpv-gdpr:A9-2-a",
    "employment": "dpv-gdpr:A9-2-b",
    "vital_interests": "dpv-gdpr:A9-2-c",
    "not_for_profit": "dpv-gdpr:A9-2-d",
    "made_public": "dpv-gdpr:A9-2-e",
    "legal_claims": "dpv-gdpr:A9-2-f",
    "substantial_public_interest": "dpv-gdpr:A9-2-g",
    "health_care": "dpv-gdpr:A9-2-h",
    "public_health": "dpv-gdpr:A9-2-i",
    "archiving_research": "dpv-gdpr:A9-2-j",
}
TRANSFER_BASES = {
    "adequacy": "dpv-gdpr:A45-3",
    "dpf": "dpv-gdpr:A45-3",
    "scc": "dpv-gdpr:A46-2-c",
    "bcr": "dpv-gdpr:A46-2-b",
    "derogation": "dpv:DataTransferLegalBasis",
    "consent": "dpv-gdpr:A49-1-a",
}
RECIPIENT_TYPES = {
    "processor": "dpv:DataProcessor",
    "subprocessor": "dpv:DataSubProcessor",
    "controller": "dpv:DataController",
    "joint_controller": "dpv:JointDataControllers",
    "authority": "dpv:Authority",
}
SOURCES = {
    "direct": "dpv:DataSubjectDataSource",
    "cookies": "dpv:DataSubjectDataSource",
    "services": "dpv:DataControllerDataSource",
    "third_party": "dpv:ThirdPartyDataSource",
    "public": "dpv:PublicDataSource",
}
MEASURES = {
    "encryption_at_rest": "dpv:EncryptionAtRest",
    "encryption_in_transit": "dpv:EncryptionInTransfer",
    "access_control": "dpv:AccessControlMethod",
    "need_to_know": "dpv:AuthorisationProcedure",
    "firewalls": "dpv:NetworkSecurityProtocols",
    "intrusion_detection": "dpv:IntrusionDetectionSystem",
    "monitoring": "dpv:MonitoringPolicy",
    "physical": "dpv:PhysicalAccessControlMethod",
    "pseudonymisation": "dpv:Pseudonymisation",
    "backups": "dpv:DataBackupProtocols",
    "audit_logging": "dpv:LoggingPolicy",
    "training": "dpv:StaffTraining",
    "vendor_review": "dpv:ThirdPartySecurityProcedures",
}
# Taxonomy key (or an ancestor of it) → nearest DPV concept; the longest matching key wins.
CATEGORY_CONCEPTS = {
    "user.name": "dpv-pd:Name",
    "user.contact": "dpv-pd:Contact",
    "user.contact.email": "dpv-pd:EmailAddress",
    "user.contact.phone_number": "dpv-pd:TelephoneNumber",
    "user.contact.address": "dpv-pd:PhysicalAddress",
    "user.device.ip_address": "dpv-pd:IPAddress",
    "user.financial": "dpv-pd:Financial",
    "user.location": "dpv-pd:Location",
    "user.behavior.browsing_history": "dpv-pd:BrowsingHistory",
    "user.demographic.age_range": "dpv-pd:Age",
    "user.health": "dpv-pd:Health",
    "user.health_and_medical": "dpv-pd:Health",
    "user.biometric": "dpv-pd:Biometric",
    "user.government_id": "dpv-pd:OfficialID",
}
PURPOSE_CONCEPTS = {
    "essential.service": "dpv:ServiceProvision",
    "essential.service.security": "dpv:EnforceSecurity",
    "essential.service.authentication": "dpv:IdentityAuthentication",
    "essential.service.operations.support": "dpv:CustomerCare",
    "essential.fraud_detection": "dpv:FraudPreventionAndDetection",
    "essential.legal_obligation": "dpv:LegalCompliance",
    "analytics": "dpv:ServiceOptimisation",
    "marketing": "dpv:Marketing",
    "marketing.advertising": "dpv:Advertising",
    "marketing.communications": "dpv:DirectMarketing",
    "personalize": "dpv:Personalisation",
}
SUBJECT_CONCEPTS = {
    "customer": "dpv:Customer",
    "customer_contact": "dpv:Customer",
    "employee": "dpv:Employee",
    "job_applicant": "dpv:JobApplicant",
    "visitor": "dpv:Visitor",
    "end_user": "dpv:User",
    "patient": "dpv:Patient",
    "citizen_voter": "dpv:Citizen",
}


def to_jsonld(manifest: Manifest) -> dict[str, Any]:
    """The manifest as one JSON-LD document with an embedded context."""
    ids = _Ids(manifest)
    graph: list[dict[str, Any]] = [*_parties(manifest, ids)]
    for key, system in manifest.systems.items():
        graph.append(_system(manifest, ids, key, system))
        graph.extend(_handlings(manifest, ids, key, system))
    graph.extend(_purposes(manifest, ids))
    graph.extend(_categories(manifest, ids))
    graph.extend(_subjects(manifest, ids))
    graph.extend(_recipients(manifest, ids))
    return {"@context": CONTEXT, "@graph": graph}


def dumps(manifest: Manifest) -> str:
    return json.dumps(to_jsonld(manifest), indent=2, ensure_ascii=False) + "\n"


class _Ids:
    """IRIs of the manifest's own things, under the organisation's site when it has one."""

    def __init__(self, manifest: Manifest) -> None:
        site = manifest.organization.website
        self.base = f"{site.rstrip('/')}/pledge/" if site else "urn:pledge:"

    def of(self, kind: str, *keys: str) -> str:
        return self.base + "/".join([kind, *(quote(k, safe=".-_") for k in keys)])

    @property
    def organization(self) -> str:
        return self.of("organization")


def _ref(iri: str) -> dict[str, str]:
    return {"@id": iri}


def _refs(iris: Iterable[str]) -> list[dict[str, str]]:
    return [_ref(i) for i in dict.fromkeys(iris)]


def _labels(manifest: Manifest, text: LocalText | None) -> list[dict[str, str]]:
    """One language-tagged literal per manifest language (fallbacks tagged as what they are)."""
    if text is None:
        return []
    found: dict[str, str] = {}
    for lang in manifest.languages:
        value, used = text.get(lang, manifest.default_language)
        found.setdefault(used, value)
    return [{"@value": v, "@language": lang} for lang, v in found.items()]


def _concept(key: str, table: dict[str, str]) -> dict[str, Any]:
    """`skos:exactMatch` the DPV concept of `key`, or `skos:broader` that of an ancestor."""
    if key in table:
        return {"skos:exactMatch": _ref(table[key])}
    parent = key.rpartition(".")[0]
    while parent:
        if parent in table:
            return {"skos:broader": _ref(table[parent])}
        parent = parent.rpartition(".")[0]
    return {}


# --- parties -----------------------------------------------------------------------------


def _contact(manifest: Manifest, contact: Contact) -> dict[str, Any]:
    node: dict[str, Any] = {}
    if contact.name is not None:
        node["dpv:hasName"] = _labels(manifest, contact.name)
    if contact.email:
        node["schema:email"] = contact.email
    if contact.postal is not None:
        node["schema:address"] = _labels(manifest, contact.postal)
    if contact.phone:
        node["schema:telephone"] = contact.phone
    if contact.url:
        node["schema:url"] = contact.url
    return node


def _parties(manifest: Manifest, ids: _Ids) -> Iterator[dict[str, Any]]:
    org = manifest.organization
    types = ["dpv:DataController", "dpv:Organisation"]
    if any(s.role == "processor" for s in manifest.systems.values()):
        types.append("dpv:DataProcessor")
    node: dict[str, Any] = {
        "@id": ids.organization,
        "@type": types,
        **_contact(manifest, org.contact),
        "dpv:hasName": org.legal_name or org.name,
    }
    if org.website:
        node["schema:url"] = org.website
    for attr, prop, kind in (
        ("dpo", "dpv:hasDataProtectionOfficer", "dpv:DataProtectionOfficer"),
        ("representative", "dpv:hasRepresentative", "dpv:Representative"),
    ):
        contact = getattr(org, attr)
        if contact is not None:
            node[prop] = _ref(ids.of(attr))
            yield {"@id": ids.of(attr), "@type": kind, **_contact(manifest, contact)}
    yield node
    for key, system in manifest.systems.items():
        if system.role == "processor":
            name = system.controller.name if system.controller else LocalText("our customer")
            yield {
                "@id": ids.of("controller", key),
                "@type": "dpv:DataController",
                "dpv:hasName": _labels(manifest, name),
            }


# --- processing -------------------------------------------------------------------------------


def _system(manifest: Manifest, ids: _Ids, key: str, system: System) -> dict[str, Any]:
    """The system as a process made of one handling per purpose."""
    node: dict[str, Any] = {
        "@id": ids.of("system", key),
        "@type": "dpv:Process",
        "dct:identifier": key,
        "dct:title": _labels(manifest, system.name),
        "dpv:hasProcess": _refs(ids.of("handling", key, p) for p in system.purposes),
    }
    if system.description is not None:
        node["dct:description"] = _labels(manifest, system.description)
    return node


def _handlings(manifest: Manifest, ids: _Ids, key: str, system: System) -> Iterator[dict[str, Any]]:
    shared = _system_context(manifest, ids, key, system)
    for purpose in system.purposes:
        collects = [c for c in system.collects if purpose in c.purposes]
        node: dict[str, Any] = {
            "@id": ids.of("handling", key, purpose),
            "@type": "dpv:PersonalDataHandling",
            "dct:identifier": f"{key}/{purpose}",
            "dct:title": _title(manifest, system, purpose),
            "dpv:hasPurpose": _ref(ids.of("purpose", purpose)),
            **_data(manifest, ids, collects),
            **_parties_of(ids, key, system),
            **_legal_basis(manifest, system, purpose),
            **shared,
        }
        recipients = _refs(
            ids.of("recipient", r)
            for r in system.recipients
            if r in manifest.recipients and _shares_for(manifest, r, purpose)
        )
        if recipients:
            node["dpv:hasRecipient"] = recipients
        transfers = list(_transfers(manifest, ids, system, purpose))
        if transfers:
            node["dpv:hasProcess"] = transfers
        yield node


def _title(manifest: Manifest, system: System, purpose: str) -> list[dict[str, str]]:
    titles = []
    for lang in manifest.languages:
        name = manifest.text(system.name, lang)
        titles.append(
            {"@value": f"{name}: {manifest.purpose_name(purpose, lang)}", "@language": lang}
        )
    return titles


def _data(manifest: Manifest, ids: _Ids, collects: list[Collect]) -> dict[str, Any]:
    keys = list(dict.fromkeys(c for col in collects for c in col.categories))
    node: dict[str, Any] = {
        "dpv:hasPersonalData": _refs(ids.of("category", k) for k in keys if manifest.is_personal(k))
    }
    other = [k for k in keys if not manifest.is_personal(k)]
    if other:
        node["dpv:hasData"] = _refs(ids.of("category", k) for k in other)
    node["dpv:hasDataSource"] = _refs(SOURCES[c.source] for c in collects)
    return node


def _parties_of(ids: _Ids, key: str, system: System) -> dict[str, Any]:
    if system.role == "processor":
        return {
            "dpv:hasDataController": _ref(ids.of("controller", key)),
            "dpv:hasDataProcessor": _ref(ids.organization),
        }
    return {"dpv:hasDataController": _ref(ids.organization)}


def _legal_basis(manifest: Manifest, system: System, purpose: str) -> dict[str, Any]:
    """The GDPR basis for our own processing; a processor relies on its controller's."""
    declared = manifest.purposes.get(purpose)
    if system.role == "processor" or declared is None:
        return {}
    bases: list[dict[str, Any]] = [_ref(LEGAL_BASES[declared.legal_basis])]
    if declared.special_condition:
        bases.append(_ref(SPECIAL_CONDITIONS[declared.special_condition]))
    if declared.legitimate_interest is not None:
        bases.append(
            {
                "@type": "dpv:LegitimateInterestOfController",
                "dct:description": _labels(manifest, declared.legitimate_interest),
            }
        )
    return {"dpv:hasLegalBasis": bases}


def _system_context(manifest: Manifest, ids: _Ids, key: str, system: System) -> dict[str, Any]:
    """Facts every handling of one system shares: subjects, storage and measures."""
    node: dict[str, Any] = {
        "dpv:hasDataSubject": _refs(ids.of("subject", s) for s in system.subjects),
    }
    conditions = _storage(manifest, system)
    if conditions:
        node["dpv:hasStorageCondition"] = conditions
    measures = system.security or manifest.security.measures
    if measures:
        node["dpv:hasTechnicalOrganisationalMeasure"] = _refs(MEASURES[m] for m in measures)
    return node


def _storage(manifest: Manifest, system: System) -> list[dict[str, Any]]:
    conditions: list[dict[str, Any]] = []
    rule = manifest.retention.get(system.retention) if system.retention else None
    if rule is not None:
        words = erasure_words(rule, "en")
        conditions.append(
            {
                "@type": "dpv:StorageDuration",
                "dpv:hasDuration": {
                    "@type": "dpv:Duration",
                    "rdf:value": {"@value": rule.keep.iso, "@type": "xsd:duration"},
                },
                "dct:description": {"@value": words, "@language": "en"},
            }
        )
        if rule.then == "delete":
            conditions.append({"@type": "dpv:StorageDeletion"})
    for country in system.locations:
        conditions.append(
            {"@type": "dpv:StorageLocation", "dpv:hasLocation": _ref(f"loc:{country}")}
        )
    return conditions


def _shares_for(manifest: Manifest, recipient: str, purpose: str) -> bool:
    declared = manifest.recipients[recipient].purposes
    return not declared or purpose in declared


def _transfers(
    manifest: Manifest, ids: _Ids, system: System, purpose: str
) -> Iterator[dict[str, Any]]:
    """Transfers outside the EEA: by where the system runs and by each recipient's countries."""
    for country in system.locations:
        if country not in EEA:
            yield _transfer(country, system.safeguard, None)
    for rkey in system.recipients:
        recipient = manifest.recipients.get(rkey)
        if recipient is None or not _shares_for(manifest, rkey, purpose):
            continue
        for country in recipient.countries:
            if country not in EEA:
                yield _transfer(country, recipient.safeguard, ids.of("recipient", rkey))


def _transfer(country: str, safeguard: str | None, recipient: str | None) -> dict[str, Any]:
    if safeguard is None and country in ADEQUATE:
        safeguard = "adequacy"
    node: dict[str, Any] = {
        "@type": "dpv:Process",
        "dpv:hasProcessing": _ref("dpv:Transfer"),
        "dpv:hasThirdCountry": _ref(f"loc:{country}"),
    }
    if recipient is not None:
        node["dpv:hasRecipient"] = _ref(recipient)
    if safeguard is not None:
        node["dpv:hasLegalBasis"] = _ref(TRANSFER_BASES[safeguard])
    return node


# --- the manifest's concepts ---------------------------------------------------------------


def _used_purposes(manifest: Manifest) -> list[str]:
    return list(
        dict.fromkeys(
            [*manifest.purposes, *(p for s in manifest.systems.values() for p in s.purposes)]
        )
    )


def _purposes(manifest: Manifest, ids: _Ids) -> Iterator[dict[str, Any]]:
    for key in _used_purposes(manifest):
        entry = manifest.taxonomy.uses.get(key)
        declared = manifest.purposes.get(key)
        node: dict[str, Any] = {
            "@id": ids.of("purpose", key),
            "@type": "dpv:Purpose",
            "dct:identifier": key,
            "skos:prefLabel": _labels(manifest, entry.name if entry else LocalText(key)),
            **_concept(key, PURPOSE_CONCEPTS),
        }
        description = declared.description if declared else None
        if description is not None:
            node["dct:description"] = _labels(manifest, description)
        yield node


def _categories(manifest: Manifest, ids: _Ids) -> Iterator[dict[str, Any]]:
    keys = dict.fromkeys(c for s in manifest.systems.values() for c in s.categories)
    for key in keys:
        entry = manifest.category(key)
        kind = "dpv:PersonalData"
        if entry is not None and not entry.personal:
            kind = "dpv:NonPersonalData"
        elif entry is not None and entry.special:
            kind = "dpv:SpecialCategoryPersonalData"
        yield {
            "@id": ids.of("category", key),
            "@type": kind,
            "dct:identifier": key,
            "skos:prefLabel": _labels(manifest, entry.name if entry else LocalText(key)),
            **_concept(key, CATEGORY_CONCEPTS),
        }


def _subjects(manifest: Manifest, ids: _Ids) -> Iterator[dict[str, Any]]:
    keys = dict.fromkeys(k for s in manifest.systems.values() for k in s.subjects)
    for key in keys:
        entry = manifest.taxonomy.subjects.get(key)
        yield {
            "@id": ids.of("subject", key),
            "@type": "dpv:DataSubject",
            "dct:identifier": key,
            "skos:prefLabel": _labels(manifest, entry.name if entry else LocalText(key)),
            **_concept(key, SUBJECT_CONCEPTS),
        }


def _recipients(manifest: Manifest, ids: _Ids) -> Iterator[dict[str, Any]]:
    for key, recipient in manifest.recipients.items():
        types = ["dpv:Recipient", RECIPIENT_TYPES.get(recipient.kind, "dpv:ThirdParty")]
        node: dict[str, Any] = {
            "@id": ids.of("recipient", key),
            "@type": types,
            "dct:identifier": key,
            "dpv:hasName": _labels(manifest, recipient.name),
        }
        if recipient.countries:
            node["dpv:hasCountry"] = _refs(f"loc:{c}" for c in recipient.countries)
        if recipient.url:
            node["schema:url"] = recipient.url
        yield node
