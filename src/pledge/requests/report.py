"""What request execution hands back: access results, erasure and rectification reports, and
the resumable state of an erasure. All of it is plain data that turns into JSON.

The access result carries the person's data (that is its purpose). The erasure and
rectification reports never do: they count rows and name fields. The erasure state holds the
request's identities and row keys, because a resumed worker needs them; the job layer stores it
encrypted with the subject's key, so shredding the key also shreds the state.
"""

from __future__ import annotations

import base64
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

Mode = Literal["delete", "mask", "shared"]
ErasureStatus = Literal["in_progress", "completed", "failed"]


# --- values as JSON ----------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A stored value as JSON shows it to a person (ISO dates, decimals as text, base64)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    return str(value)


_TAGS: dict[str, Any] = {
    "uuid": uuid.UUID,
    "decimal": Decimal,
    "date": date.fromisoformat,
    "datetime": datetime.fromisoformat,
    "time": time.fromisoformat,
    "bytes": bytes.fromhex,
}


def encode_key(value: Any) -> Any:
    """A key value as JSON that `decode_key` turns back into the same Python value."""
    if value is None or isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, uuid.UUID):
        return {"$": "uuid", "v": str(value)}
    if isinstance(value, Decimal):
        return {"$": "decimal", "v": str(value)}
    if isinstance(value, datetime):
        return {"$": "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {"$": "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {"$": "time", "v": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$": "bytes", "v": bytes(value).hex()}
    return str(value)


def decode_key(value: Any) -> Any:
    if isinstance(value, dict) and value.get("$") in _TAGS:
        return _TAGS[value["$"]](value["v"])
    return value


# --- access --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CollectionData:
    """The rows of one collection that belong to the person."""

    system: str
    dataset: str
    collection: str
    fields: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    case_only_rows: int = 0
    """Rows found by an e-mail that differs from the person's only in letter case (a note
    for whoever reads the report: same person, spelled differently in this store)."""

    @property
    def node(self) -> str:
        return f"{self.dataset}.{self.collection}"

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.fields, row, strict=True)) for row in self.rows]

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "dataset": self.dataset,
            "collection": self.collection,
            "fields": list(self.fields),
            "rows": [{k: json_value(v) for k, v in r.items()} for r in self.records()],
            "case_only_rows": self.case_only_rows,
        }


@dataclass(frozen=True, slots=True)
class ForwardedSystem:
    """A processor system: the person is told whom to ask (P-S14)."""

    system: str
    controller: str | None
    contact_field: str | None


@dataclass(frozen=True)
class AccessResult:
    """Everything found about the person, by system, dataset and collection."""

    collections: tuple[CollectionData, ...]
    forwarded: tuple[ForwardedSystem, ...] = ()
    manual: tuple[str, ...] = ()
    """Controller systems without datasets: someone must look there by hand."""
    unreachable: tuple[str, ...] = ()
    """Collections no identity reaches (a plan defect `pledge check` also reports)."""

    def collection(self, node: str) -> CollectionData | None:
        return next((c for c in self.collections if c.node == node), None)

    def by_system(self) -> dict[str, list[CollectionData]]:
        out: dict[str, list[CollectionData]] = {}
        for data in self.collections:
            out.setdefault(data.system, []).append(data)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "collections": [c.to_json() for c in self.collections],
            "forwarded": [asdict(f) for f in self.forwarded],
            "manual": list(self.manual),
            "unreachable": list(self.unreachable),
        }


# --- erasure -----------------------------------------------------------------------------


@dataclass(slots=True)
class CollectionErasure:
    """What erasure did in one collection: counts and field names, never values."""

    system: str
    dataset: str
    collection: str
    action: Literal["delete", "mask", "none"]
    rows_found: int = 0
    rows_deleted: int = 0
    rows_masked: int = 0
    rows_shared: int = 0
    """Rows other people share: only the fields holding the person's identifiers were masked."""
    rows_kept_referenced: int = 0
    """Rows to delete that other rows still reference: masked instead."""
    fields_changed: int = 0
    fields: tuple[str, ...] = ()
    """Fields erasure masks here."""
    kept_fields: tuple[str, ...] = ()
    """Personal fields kept on purpose (`read_only`: a legal obligation or legal hold)."""
    left_rows: int = 0
    left_fields: tuple[str, ...] = ()
    status: Literal["pending", "erased", "nothing_found", "failed"] = "pending"
    case_only_rows: int = 0
    """Rows found by an e-mail that differs from the person's only in letter case."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fields"] = list(self.fields)
        data["kept_fields"] = list(self.kept_fields)
        data["left_fields"] = list(self.left_fields)
        return data


@dataclass
class ErasureReport:
    """The outcome of an erasure: `completed` only when verification found nothing left."""

    status: ErasureStatus
    collections: list[CollectionErasure]
    forwarded: tuple[ForwardedSystem, ...] = ()
    manual: tuple[str, ...] = ()
    unreachable: tuple[str, ...] = ()

    @property
    def left(self) -> list[CollectionErasure]:
        return [c for c in self.collections if c.left_rows]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "collections": [c.to_json() for c in self.collections],
            "forwarded": [asdict(f) for f in self.forwarded],
            "manual": list(self.manual),
            "unreachable": list(self.unreachable),
        }


@dataclass(frozen=True, slots=True)
class TargetRow:
    """A row erasure will change: its key, what to do, and digests of the fields to mask."""

    key: tuple[Any, ...]
    mode: Mode
    fields: Mapping[str, str]

    def to_json(self) -> list[Any]:
        return [[encode_key(v) for v in self.key], self.mode, dict(self.fields)]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> TargetRow:
        key, mode, fields = data
        return cls(tuple(decode_key(v) for v in key), mode, dict(fields))


@dataclass
class ErasureState:
    """Where an erasure stands, checkpointed by the job layer between steps.

    Holds identities and row keys (so it must be stored encrypted with the subject's key) and
    digests of the values to mask, never the values themselves.
    """

    identities: dict[str, list[Any]]
    salt: str
    plan: str
    """Digest of the plan the steps belong to: a changed manifest cannot resume old steps."""
    targets: dict[str, list[TargetRow]] | None = None
    identifying: list[str] = field(default_factory=list)
    found: dict[str, int] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    left: dict[str, dict[str, Any]] | None = None
    status: ErasureStatus = "in_progress"
    case_only: dict[str, int] = field(default_factory=dict)
    """Per collection, rows found by an e-mail differing only in letter case (collect)."""

    def copy(self) -> ErasureState:
        """A copy whose containers can change without touching this one (steps return one)."""
        return ErasureState(
            {k: list(v) for k, v in self.identities.items()},
            self.salt,
            self.plan,
            dict(self.targets) if self.targets is not None else None,
            list(self.identifying),
            dict(self.found),
            list(self.done),
            {k: dict(v) for k, v in self.outcomes.items()},
            dict(self.left) if self.left is not None else None,
            self.status,
            dict(self.case_only),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "identities": {k: [encode_key(v) for v in vs] for k, vs in self.identities.items()},
            "salt": self.salt,
            "plan": self.plan,
            "targets": None
            if self.targets is None
            else {n: [r.to_json() for r in rows] for n, rows in self.targets.items()},
            "identifying": self.identifying,
            "found": self.found,
            "done": self.done,
            "outcomes": self.outcomes,
            "left": self.left,
            "status": self.status,
            "case_only": self.case_only,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ErasureState:
        targets = data.get("targets")
        return cls(
            {k: [decode_key(v) for v in vs] for k, vs in data["identities"].items()},
            data["salt"],
            data["plan"],
            None
            if targets is None
            else {n: [TargetRow.from_json(r) for r in rows] for n, rows in targets.items()},
            list(data.get("identifying", ())),
            dict(data.get("found", {})),
            list(data.get("done", ())),
            {k: dict(v) for k, v in data.get("outcomes", {}).items()},
            data.get("left"),
            data.get("status", "in_progress"),
            dict(data.get("case_only", {})),
        )


# --- rectification -------------------------------------------------------------------------


@dataclass(slots=True)
class CollectionRectification:
    system: str
    dataset: str
    collection: str
    rows_changed: int = 0
    fields_changed: int = 0
    fields: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fields"] = list(self.fields)
        return data


@dataclass
class RectificationReport:
    """Which fields got the person's corrections; old and new values are never in it."""

    collections: list[CollectionRectification]
    unmatched: tuple[str, ...] = ()
    """Correction keys no field holds (nothing to correct for them)."""
    forwarded: tuple[ForwardedSystem, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "collections": [c.to_json() for c in self.collections],
            "unmatched": list(self.unmatched),
            "forwarded": [asdict(f) for f in self.forwarded],
        }
