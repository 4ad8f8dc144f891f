"""The access and portability package: the person's data and the GDPR Art. 15 facts about it.

A zip with `index.html` (a letter in the person's language: each system's data under names
from the taxonomy, values written for people; see `readable`), `data.json` (machine-readable,
for portability: the data and the facts, with the column names) and one CSV per collection.
Credentials are in none of them; the package says which kinds were left out.
The facts come from the manifest per system: purposes with their legal bases,
categories, recipients, transfers outside the EEA with their safeguard, retention, source and
the rights the person has. The zip is sealed with the subject's vault key before it is stored
and opened only for a download, so erasure (which shreds the key) destroys it too.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pledge.csvsafe import safe_row
from pledge.manifest.jurisdictions import EEA
from pledge.manifest.model import Manifest
from pledge.policy import rights_offered
from pledge.requests.readable import Withheld, category_name, table_of, without_secrets
from pledge.requests.render import N_, gettext, render
from pledge.requests.report import AccessResult, json_value
from pledge.requests.service import record_read
from pledge.requests.tables import DataRequest, RequestPackage
from pledge.store.db import store_of
from pledge.store.tables import table, utcnow

#: How long a download link works.
LINK_TTL = timedelta(days=7)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def system_facts(
    manifest: Manifest, system_key: str, lang: str, jurisdiction: str
) -> dict[str, Any]:
    """The Art. 15 facts of one system, in `lang`, as plain JSON."""
    system = manifest.systems[system_key]
    purposes: dict[str, dict[str, Any]] = {}
    categories: dict[str, str] = {}
    sources: dict[str, str | None] = {}
    for collect in system.collects:
        for key in collect.purposes:
            purpose = manifest.purposes.get(key)
            basis = purpose.legal_basis if purpose is not None else None
            purposes[key] = {
                "purpose": key,
                "name": manifest.purpose_name(key, lang),
                "legal_basis": basis,
                "legal_basis_name": (
                    gettext(lang, LEGAL_BASES[basis]) if basis in LEGAL_BASES else None
                ),
            }
        for key in collect.categories:
            entry = manifest.category(key)
            categories[key] = entry.name.text(lang, "en") if entry is not None else key
        detail = manifest.text(collect.source_detail, lang) or None
        sources[collect.source] = detail
    recipients = []
    countries: dict[str, str | None] = {c: system.safeguard for c in system.locations}
    for key, recipient in manifest.recipients_of(system_key):
        recipients.append(
            {
                "recipient": key,
                "name": manifest.text(recipient.name, lang),
                "kind": recipient.kind,
                "countries": list(recipient.countries),
            }
        )
        for country in recipient.countries:
            countries.setdefault(country, recipient.safeguard)
    transfers = [
        {"country": c, "safeguard": s} for c, s in sorted(countries.items()) if c not in EEA
    ]
    rule = manifest.retention_for(system_key)
    retention = None
    if rule is not None:
        retention = {
            "keep": str(rule.keep),
            "after": rule.after,
            "then": rule.then,
            "reason": manifest.text(rule.reason, lang) or None,
            "legal_hold": rule.legal_hold,
        }
    return {
        "system": system_key,
        "name": manifest.text(system.name, lang),
        "role": system.role,
        "purposes": list(purposes.values()),
        "categories": [{"category": k, "name": v} for k, v in categories.items()],
        "recipients": recipients,
        "transfers": transfers,
        "retention": retention,
        "sources": [{"source": k, "detail": v} for k, v in sources.items()],
        "rights": sorted(rights_offered(manifest, jurisdiction)),
    }


#: The GDPR Art. 6 legal bases in words (translated where they are shown).
LEGAL_BASES = {
    "consent": N_("Consent"),
    "contract": N_("Performance of a contract"),
    "legal_obligation": N_("Legal obligation"),
    "vital_interests": N_("Vital interests"),
    "public_task": N_("Public task"),
    "legitimate_interests": N_("Legitimate interests"),
}


def authority_facts(manifest: Manifest, lang: str) -> dict[str, Any] | None:
    authority = manifest.organization.supervisory_authority
    if authority is None:
        return None
    return {"name": manifest.text(authority.name, lang), "url": authority.url}


def build(
    manifest: Manifest,
    result: AccessResult,
    *,
    reference: str,
    lang: str,
    jurisdiction: str,
    created: datetime,
) -> bytes:
    """The zip's bytes; deterministic for the same input (fixed entry times, sorted keys)."""
    result, withheld = without_secrets(manifest, result)
    by_system = result.by_system()
    facts = [system_facts(manifest, s, lang, jurisdiction) for s in by_system]
    data = {
        "reference": reference,
        "created": created.isoformat(),
        "organization": manifest.organization.name,
        "language": lang,
        "jurisdiction": jurisdiction,
        "systems": [
            {
                **fact,
                "collections": [c.to_json() for c in by_system[fact["system"]]],
            }
            for fact in facts
        ],
        "forwarded": [
            {
                "system": f.system,
                "name": manifest.text(manifest.systems[f.system].name, lang),
                "controller": f.controller,
            }
            for f in result.forwarded
        ],
        "supervisory_authority": authority_facts(manifest, lang),
        "withheld": [w.to_json() for w in withheld],
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "data.json", json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))
        csv_names = {}
        for collection in result.collections:
            name = f"csv/{_SAFE.sub('_', collection.system)}__{_SAFE.sub('_', collection.node)}.csv"
            csv_names[(collection.system, collection.node)] = name
            _add(archive, name, _csv(collection.fields, collection.records()))
        index = render(
            "requests/package.html",
            lang,
            data=data,
            tables=_tables(manifest, result, lang, csv_names),
            withheld=_withheld_names(manifest, withheld, lang),
        )
        _add(archive, "index.html", index)
    return out.getvalue()


def _tables(
    manifest: Manifest, result: AccessResult, lang: str, files: dict[tuple[str, str], str]
) -> dict[str, list[dict[str, Any]]]:
    """Per system, its collections as the index shows them (named fields, readable values)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for data in result.collections:
        shown = table_of(manifest, data, lang)
        if shown is not None:
            entry = {"table": shown, "file": files[(data.system, data.node)]}
            out.setdefault(data.system, []).append(entry)
    return out


def _withheld_names(
    manifest: Manifest, withheld: tuple[Withheld, ...], lang: str
) -> dict[str, list[str]]:
    """Per system, the names of the kinds of secrets left out of the package."""
    out: dict[str, dict[str, None]] = {}
    for item in withheld:
        names = out.setdefault(item.system, {})
        names.update(dict.fromkeys(category_name(manifest, c, lang) for c in item.categories))
    return {system: list(names) for system, names in out.items()}


def _add(archive: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name, _ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text.encode("utf-8"))


def _csv(fields: tuple[str, ...], records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(safe_row(fields))
    for record in records:
        cells = ["" if (v := json_value(record[f])) is None else v for f in fields]
        writer.writerow(safe_row(cells))
    return buffer.getvalue()


# --- storage and download -----------------------------------------------------------------


def _aad(request_id: str) -> bytes:
    return b"pledge/package/v1\x00" + request_id.encode()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def store(session: Session, req: DataRequest, content: bytes, now: datetime | None = None) -> str:
    """Seal and store the package (replacing an earlier one); returns a new download token."""
    now = now or utcnow()
    vault = store_of(session).vault
    token = secrets.token_urlsafe(32)
    sealed = vault.encrypt_for(session, req.subject_id, content, _aad(req.id))
    row = session.get(RequestPackage, req.id)
    if row is None:
        row = RequestPackage(request_id=req.id, subject_id=req.subject_id)
        session.add(row)
    row.sealed = sealed
    row.size = len(content)
    row.token_hash = _digest(token)
    row.created_at = now
    row.expires_at = now + LINK_TTL
    row.downloaded_at = None
    session.flush()
    return token


class DownloadRefused(Exception):
    """The link is unknown, used or expired: one answer for all three."""


def redeem(session: Session, token: str, now: datetime | None = None) -> tuple[DataRequest, bytes]:
    """Open the package of a download token, once: the link is spent in this transaction."""
    now = now or utcnow()
    t = table(RequestPackage)
    spent = session.execute(
        update(t)
        .where(
            t.c.token_hash == _digest(token),
            t.c.downloaded_at.is_(None),
            t.c.expires_at > now,
        )
        .values(downloaded_at=now)
        .returning(t.c.request_id)
    ).first()
    if spent is None:
        raise DownloadRefused("this download link is unknown, used or expired")
    req, content = _open(session, str(spent[0]))
    _audit_read(session, req, "subject", None)
    return req, content


def open_package(
    session: Session, request_id: str, *, actor: str, purpose: str | None = None
) -> tuple[DataRequest, bytes]:
    """The request and its package's bytes for staff; the read is audited (P-G10)."""
    req, content = _open(session, request_id)
    _audit_read(session, req, actor, purpose)
    return req, content


def _open(session: Session, request_id: str) -> tuple[DataRequest, bytes]:
    row = session.get(RequestPackage, request_id, populate_existing=True)
    req = session.get(DataRequest, request_id)
    if row is None or req is None:
        raise DownloadRefused("this request has no package")
    vault = store_of(session).vault
    return req, vault.decrypt_for(session, row.subject_id, row.sealed, _aad(request_id))


def _audit_read(session: Session, req: DataRequest, actor: str, purpose: str | None) -> None:
    """Who read the package, whose it is and what it holds (collections, never values)."""
    collections = sorted((req.result or {}).get("collections") or {})
    record_read(
        session,
        req,
        actor=actor,
        what=["access_package"],
        purpose=purpose,
        collections=collections,
    )


@dataclass(frozen=True)
class LinkState:
    """When a package's mailed link expires and whether it was used (never the link itself)."""

    expires_at: datetime
    downloaded_at: datetime | None

    def expired(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) >= self.expires_at


@dataclass(frozen=True)
class Link:
    """What a download link's page may say before it is spent: whose language, which request,
    and whether the link still works (looking does not spend it)."""

    language: str
    reference: str
    state: LinkState

    @property
    def usable(self) -> bool:
        return self.state.downloaded_at is None and not self.state.expired()


def peek(session: Session, token: str) -> Link | None:
    """The link of a download token without spending it; None for a token never issued."""
    row = session.execute(
        select(RequestPackage).where(RequestPackage.token_hash == _digest(token))
    ).scalar_one_or_none()
    req = None if row is None else session.get(DataRequest, row.request_id)
    if row is None or req is None:
        return None
    return Link(req.language, req.reference, LinkState(row.expires_at, row.downloaded_at))


def link_state(session: Session, request_id: str) -> LinkState | None:
    """The state of a request's download link, for the status page; None without a package."""
    row = session.get(RequestPackage, request_id)
    return None if row is None else LinkState(row.expires_at, row.downloaded_at)


#: Where a mailed download link leads: a page with a button, so opening it spends nothing.
DOWNLOAD_PAGE = "/privacy/requests/download/"


def download_url(public_url: str, token: str) -> str:
    """The mailed link: the download page, whose button (a POST) spends the token."""
    return f"{public_url.rstrip('/')}{DOWNLOAD_PAGE}{token}"
