"""Pydantic shapes of what the API answers with (they become the OpenAPI document)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pledge.api.permissions import ROLES

Role = Literal["admin", "privacy_officer", "support_agent", "auditor", "service"]
assert set(ROLES) == set(get_args(Role)), "Role must list permissions.ROLES"


class ProblemDocument(BaseModel):
    """An RFC 9457 problem document (`application/problem+json`)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"] = Field(
        description="ok; degraded: the API answers but requests are not being carried out "
        "(see problems); unavailable: the database is not (HTTP 503)"
    )
    version: str
    database: str
    manifest_digest: str
    manifest_loaded_at: datetime
    worker: Literal["running", "stopped", "disabled"]
    problems: list[str] = Field(default_factory=list, description="Why it is not ok.")


class AuditEventOut(BaseModel):
    seq: int
    occurred_at: str = Field(description="UTC, fixed width: 2026-01-31T12:00:00.000000Z")
    actor: str
    action: str
    object_type: str
    object_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class CheckpointOut(BaseModel):
    format: str
    seq: int
    hash: str
    time: str
    key_id: str
    public_key: str
    signature: str


class KeyOut(BaseModel):
    id: str
    name: str
    role: Role
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    active: bool


class KeyCreated(BaseModel):
    key: KeyOut
    secret: str = Field(description="The key itself; shown only in this answer, never again.")


def _printable(value: str) -> str:
    """Text shown to operators: no control, format (bidi overrides) or surrogate characters."""
    value = value.strip()
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in value):
        raise ValueError(
            "must not contain control characters, invisible formatting characters "
            "(such as direction overrides) or lone surrogates"
        )
    return value


class KeyCreate(BaseModel):
    """A new API key: what it is for, and its role."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$",
        description="What the key is for (printable text).",
    )
    role: Role

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = _printable(value)
        if not value:
            raise ValueError("must not be blank")
        return value


class FindingOut(BaseModel):
    file: str
    line: int
    col: int
    severity: Literal["error", "warning"]
    rule: str
    message: str
    hint: str | None
    path: str


class ManifestStatus(BaseModel):
    path: str
    digest: str
    loaded_at: datetime
    languages: list[str]
    notices: list[str]
    last_reload_error: list[FindingOut] | None = Field(
        description="Why the last reload was refused (null when it succeeded or none ran)."
    )


class ReloadResult(BaseModel):
    ok: bool
    digest: str
    findings: list[FindingOut]
