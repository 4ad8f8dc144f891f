"""Staff reads of the consent log: the export (JSON Lines or CSV) and the audit of each read.

Every staff read of a person's consent writes an audit event before the answer leaves (P-G10):
who read, which kinds of data (never the values), the subject reference (a keyed hash, see
`pledge.consent.subjects`) and the purpose when the reader gave one. A person reading their
own choices through their device cookie is not a staff read and is not audited.

CSV cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or
carriage return) get a leading single quote (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any

from pledge.consent import records
from pledge.csvsafe import neutralise
from pledge.store import audit
from pledge.store.db import Store

PAGE = 1000
READ = "consent.read"
EXPORTED = "consent.exported"
#: Audit actions of reads: they change nothing, so caches ignore them.
READ_ACTIONS = frozenset({READ, EXPORTED})
#: What a subject read shows and what an export holds (kinds, never values).
SUBJECT_KINDS = ("choices", "consent_records", "processing_limits", "receipts")
EXPORT_KINDS = ("choices", "consent_records", "receipts", "subject_references")
CSV_COLUMNS = (
    "id",
    "recorded_at",
    "subject",
    "mechanism",
    "categories",
    "purposes",
    "notice_id",
    "notice_version",
    "jurisdiction",
    "language",
    "ip_prefix",
    "user_agent_sha256",
    "gpc_signal",
    "gpc_applied",
    "collector",
    "made_by",
    "on_behalf",
    "receipt",
)


def audit_read(
    store: Store,
    actor: str,
    action: str,
    details: dict[str, Any],
    purpose: str | None,
) -> None:
    """Write the audit event of one staff read, in its own transaction, before answering."""
    shown = {**details, "purpose": purpose} if purpose else details
    subject = details.get("subject")
    with store.transaction() as session:
        audit.append(
            session, actor, action, "consent_subject" if subject else "consent_log", subject, shown
        )


def _csv_cell(value: Any) -> str:
    """A value as CSV text a spreadsheet shows, never runs (leading quote on formula starts)."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    else:
        text = str(value)
    return str(neutralise(text))


def _csv_row(record: dict[str, Any]) -> list[str]:
    flat = {
        **record,
        "categories": record["choices"].get("categories", {}),
        "purposes": record["choices"].get("purposes", {}),
        "notice_id": record["notice"]["id"],
        "notice_version": record["notice"]["version"],
        "ip_prefix": record["proof"]["ip_prefix"],
        "user_agent_sha256": record["proof"]["user_agent_sha256"],
        "gpc_signal": record["gpc"]["signal"],
        "gpc_applied": record["gpc"]["applied"],
    }
    return [_csv_cell(flat[column]) for column in CSV_COLUMNS]


def _csv_chunk(rows: Sequence[dict[str, Any]], header: bool) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_row(r) for r in rows)
    return out.getvalue().encode()


def lines(store: Store, after: str | None, fmt: str = "jsonl") -> Iterator[bytes]:
    """The log after record id `after`, page by page, as JSON Lines or CSV (with a header)."""
    cursor, first = after, True
    while True:
        with store.reader() as session:
            chunk = [records.record_as_dict(r) for r in records.export_page(session, cursor, PAGE)]
        if fmt == "csv":
            if chunk or first:
                yield _csv_chunk(chunk, header=first)
        elif chunk:
            yield b"".join(json.dumps(r).encode() + b"\n" for r in chunk)
        first = False
        if len(chunk) < PAGE:
            return
        cursor = chunk[-1]["id"]
