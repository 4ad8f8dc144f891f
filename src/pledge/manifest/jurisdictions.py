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


# The California right to limit the use and disclosure of sensitive personal information
# (Cal. Civ. Code § 1798.121). MERGE NOTE: another branch adds this right as a request kind in
# `pledge.policy` and the request pages; if it lands there under another name, change the value
# here (and in `RightKind`) and nothing else.
LIMIT_SENSITIVE = "limit_sensitive"


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
            LIMIT_SENSITIVE,
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


def jurisdiction_of(country: str, region: str | None = None) -> str:
    """The jurisdiction whose law applies in `country` (and US state `region`), else global."""
    code = country.upper()
    if code == "US" and (region or "").upper() in ("CA", "US-CA"):
        return "us-ca"
    for key, info in JURISDICTIONS.items():
        if code in info.countries:
            return key
    return "global"


# --- what a notice must tell ------------------------------------------------------------------

NoticeDuty = Literal["always", "consent", "sale_or_sharing", "sensitive"]
"""When a law makes a notice state a right: always, or only where the manifest does what the
right answers (relies on consent, sells or shares, uses sensitive personal information)."""

_GDPR_NOTICE: dict[str, tuple[NoticeDuty, str]] = {
    "access": ("always", "Art. 15"),
    "rectification": ("always", "Art. 16"),
    "erasure": ("always", "Art. 17"),
    "restriction": ("always", "Art. 18"),
    "portability": ("always", "Art. 20"),
    "objection": ("always", "Art. 21"),
    "withdraw_consent": ("consent", "Art. 7(3)"),
    "complaint": ("always", "Art. 77"),
}

NOTICE_RIGHTS: dict[str, dict[str, tuple[NoticeDuty, str]]] = {
    "eu": _GDPR_NOTICE,
    "uk": _GDPR_NOTICE,
    "ch": {
        "access": ("always", "Art. 25"),
        "portability": ("always", "Art. 28"),
        "rectification": ("always", "Art. 32(1)"),
        "erasure": ("always", "Art. 32(2)(c)"),
        "objection": ("always", "Art. 30(2)(b)"),
    },
    "us-ca": {
        "access": ("always", "§ 1798.110"),  # the right to know
        "erasure": ("always", "§ 1798.105"),  # the right to delete
        "rectification": ("always", "§ 1798.106"),  # the right to correct
        "opt_out_sale_sharing": ("sale_or_sharing", "§ 1798.120"),
        LIMIT_SENSITIVE: ("sensitive", "§ 1798.121"),
    },
    "global": {},
}
"""Per jurisdiction, the rights its law makes a notice state, when, and where the law says so.
A California business that neither sells nor shares, or uses no sensitive personal information,
states that instead of the opt-out or the limit (CCPA Regulations § 7011(e))."""
