"""Facts about jurisdictions that the manifest refers to: which rights exist, and transfers.

These are legal facts, not decisions; `pledge.policy` turns them into decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RightKind = Literal[
    "access",
    "portability",
    "rectification",
    "erasure",
    "restriction",
    "objection",
    "opt_out_sale_sharing",
    "limit_sensitive",
    "unsubscribe",
    "withdraw_consent",
    "complaint",
]
RIGHT_KINDS: tuple[str, ...] = RightKind.__args__  # type: ignore[attr-defined]
#: Rights a person exercises elsewhere than through a data subject request.
_NOT_REQUESTS = ("unsubscribe", "withdraw_consent", "complaint")
#: Rights exercised through a data subject request: the kinds of request the workflow executes
#: (the one definition; mail labels and the `requests` table's check use it).
REQUEST_KINDS: tuple[str, ...] = tuple(k for k in RIGHT_KINDS if k not in _NOT_REQUESTS)


@dataclass(frozen=True)
class Jurisdiction:
    """A legal regime whose rights and deadlines Pledge knows by default."""

    key: str
    law: str
    rights: tuple[str, ...]
    deadline: str  # ISO 8601 duration to answer a request
    extension: str | None  # how much longer it may be extended
    countries: frozenset[str] = frozenset()


_GDPR_RIGHTS = (
    "access",
    "portability",
    "rectification",
    "erasure",
    "restriction",
    "objection",
    "unsubscribe",
    "withdraw_consent",
    "complaint",
)

EEA = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)

JURISDICTIONS: dict[str, Jurisdiction] = {
    "eu": Jurisdiction("eu", "GDPR", _GDPR_RIGHTS, "P1M", "P2M", EEA),
    "uk": Jurisdiction("uk", "UK GDPR", _GDPR_RIGHTS, "P1M", "P2M", frozenset({"GB"})),
    "ch": Jurisdiction("ch", "revFADP", _GDPR_RIGHTS, "P30D", "P60D", frozenset({"CH"})),
    "us-ca": Jurisdiction(
        "us-ca",
        "CCPA/CPRA",
        (
            "access",
            "portability",
            "rectification",
            "erasure",
            "opt_out_sale_sharing",
            "limit_sensitive",
            "unsubscribe",
            "complaint",
        ),
        "P45D",
        "P45D",
    ),
    "global": Jurisdiction(
        "global",
        "",
        ("access", "rectification", "erasure", "unsubscribe", "complaint"),
        "P30D",
        None,
    ),
}

# Countries with an EU adequacy decision (Art. 45 GDPR). The United States is adequate only for
# organisations certified under the Data Privacy Framework, which a manifest states as `dpf`.
ADEQUATE = (
    frozenset(["AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "GB", "UY"])
    | EEA
)

SAFEGUARDS = ("adequacy", "scc", "bcr", "dpf", "derogation", "consent")
