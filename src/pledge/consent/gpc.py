"""Global Privacy Control (`Sec-GPC: 1`, `navigator.globalPrivacyControl`).

GPC is an opt-out of sale, sharing and targeted advertising where the law makes it one
(California: CCPA regulations § 7025); the jurisdictions come from the manifest (those
offering the `opt_out_sale_sharing` right, when `signals.global_privacy_control: honour`).
A visitor with GPC who explicitly switches such a category on in "customise" overrides the
signal for that choice; the record says so (`gpc_signal` true, `gpc_applied` false). Do Not
Track has no agreed meaning, so its handling is what `signals.do_not_track` states.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pledge.manifest.model import Manifest
from pledge.policy import consent_tables


def header_says_gpc(value: str | None) -> bool:
    """`Sec-GPC: 1` (the only value the spec defines)."""
    return value is not None and value.strip() == "1"


def applies(manifest: Manifest, jurisdiction: str) -> bool:
    return jurisdiction in consent_tables(manifest).gpc_jurisdictions


def sharing_categories(manifest: Manifest) -> frozenset[str]:
    """Tracker categories with a tracker that sells or shares (advertising, social …)."""
    tables = consent_tables(manifest)
    return frozenset(
        category
        for category, purposes in tables.category_purposes.items()
        if category != "strictly_necessary" and any(p in tables.sale_or_sharing for p in purposes)
    )


@dataclass(frozen=True)
class GpcOutcome:
    purposes: dict[str, bool]
    categories: dict[str, bool]
    applied: bool


def apply(
    manifest: Manifest,
    jurisdiction: str,
    mechanism: str,
    purposes: Mapping[str, bool],
    categories: Mapping[str, bool],
    signal: bool,
) -> GpcOutcome:
    """The choices after honouring GPC: sale/sharing switched off unless explicitly opted in.

    Only a `custom` choice naming a sharing category or purpose `true` is an explicit opt-in;
    "accept all" is not, so GPC still wins over it.
    """
    purposes, categories = dict(purposes), dict(categories)
    if not signal or not applies(manifest, jurisdiction):
        return GpcOutcome(purposes, categories, False)
    tables = consent_tables(manifest)
    share_cats = sharing_categories(manifest)
    explicit = mechanism == "custom" and (
        any(categories.get(c) for c in share_cats)
        or any(purposes.get(p) for p in tables.sale_or_sharing)
    )
    if explicit:
        return GpcOutcome(purposes, categories, False)
    for category in share_cats:
        categories[category] = False
    for purpose in tables.sale_or_sharing:
        if purpose in tables.rules:
            purposes[purpose] = False
    return GpcOutcome(purposes, categories, True)
