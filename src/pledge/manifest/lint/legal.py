"""Lint rules: the legal conditions a promise needs before Pledge may act on it.

Each rule checks one condition the law (GDPR, UK GDPR, CCPA/CPRA) or a promise in
PROMISES.md puts on the manifest, and points at the node that has to change.
"""

from __future__ import annotations

from collections.abc import Iterator

from pledge.manifest.findings import Finding
from pledge.manifest.jurisdictions import ADEQUATE
from pledge.manifest.lint import Context, rule
from pledge.manifest.lint.references import collects
from pledge.manifest.model import Manifest, Safeguard, Tracker
from pledge.manifest.source import Path

# Jurisdictions whose law restricts transfers to countries without adequacy (P-G6).
TRANSFER_LAWS = ("eu", "uk")


@rule(
    "legitimate-interest-summary",
    "error",
    "a purpose on legitimate interests without its balancing summary (P-S16)",
)
def legitimate_interest_summary(ctx: Context) -> Iterator[Finding]:
    for key, purpose in ctx.manifest.purposes.items():
        if purpose.legal_basis == "legitimate_interests" and purpose.legitimate_interest is None:
            yield ctx.finding(
                "legitimate-interest-summary",
                ("purposes", key, "legal_basis"),
                f"purpose '{key}' relies on legitimate interests but gives no balancing "
                "summary (P-S16)",
                "add `legitimate_interest:` saying whose interest it is and why it outweighs "
                "the person's",
            )


@rule("consent-withdrawal", "error", "a consent-based purpose with no way to withdraw consent")
def consent_withdrawal(ctx: Context) -> Iterator[Finding]:
    for key, purpose in ctx.manifest.purposes.items():
        if purpose.is_consent and not purpose.withdrawal and purpose.program is None:
            yield ctx.finding(
                "consent-withdrawal",
                ("purposes", key, "legal_basis"),
                f"purpose '{key}' relies on consent but says nowhere how to withdraw it",
                "add `withdrawal:` with banner, privacy_centre, preference_centre, unsubscribe "
                "…, or a `program:` people can leave",
            )


@rule("retention-missing", "error", "a controller system keeps personal data with no retention")
def retention_missing(ctx: Context) -> Iterator[Finding]:
    manifest = ctx.manifest
    for key, system in manifest.systems.items():
        if system.role != "controller" or system.retention is not None:
            continue
        personal = [c for c in system.categories if manifest.is_personal(c)]
        if personal:
            yield ctx.finding(
                "retention-missing",
                ("systems", key),
                f"system '{key}' keeps personal data ({', '.join(personal[:3])}"
                f"{' …' if len(personal) > 3 else ''}) but names no retention rule (P-G9)",
                "add `retention:` naming a rule under `retention:`",
                key=True,
            )


def _transfers(manifest: Manifest) -> Iterator[tuple[Path, str, str, Safeguard | None]]:
    """Every country data goes to: (path of the country node, owner, country, safeguard)."""
    for key, recipient in manifest.recipients.items():
        for i, country in enumerate(recipient.countries):
            path = ("recipients", key, "countries", i)
            yield path, f"recipient '{key}'", country, recipient.safeguard
    for key, system in manifest.systems.items():
        for i, country in enumerate(system.locations):
            yield ("systems", key, "locations", i), f"system '{key}'", country, system.safeguard


@rule("transfer-safeguard", "error", "a transfer outside adequacy without a safeguard (P-G6)")
def transfer_safeguard(ctx: Context) -> Iterator[Finding]:
    laws = [j for j in TRANSFER_LAWS if j in ctx.manifest.jurisdictions]
    if not laws:
        return
    for path, owner, country, safeguard in _transfers(ctx.manifest):
        if country in ADEQUATE or safeguard not in (None, "adequacy"):
            continue
        problem = "claims adequacy for" if safeguard == "adequacy" else "has no safeguard for"
        yield ctx.finding(
            "transfer-safeguard",
            path,
            f"{owner} {problem} the transfer to {country}, which has no adequacy decision "
            f"({'/'.join(laws)} law applies, P-G6)",
            "set `safeguard:` to scc, bcr, dpf, derogation or consent",
        )


@rule("processor-controller", "error", "a processor system that does not say whose data it is")
def processor_controller(ctx: Context) -> Iterator[Finding]:
    for key, system in ctx.manifest.systems.items():
        if system.role == "processor" and system.controller is None:
            yield ctx.finding(
                "processor-controller",
                ("systems", key, "role"),
                f"system '{key}' processes for someone else but names no controller, so "
                "requests about it cannot be routed (P-S14)",
                "add `controller:` (for example: our customer, your employer)",
            )


@rule("marketing-contract", "error", "a marketing purpose claimed as necessary for a contract")
def marketing_contract(ctx: Context) -> Iterator[Finding]:
    for key, purpose in ctx.manifest.purposes.items():
        if purpose.legal_basis == "contract" and ctx.manifest.is_marketing(key):
            yield ctx.finding(
                "marketing-contract",
                ("purposes", key, "legal_basis"),
                f"purpose '{key}' is direct marketing, which is never necessary for a contract",
                "use consent or legitimate_interests",
            )


@rule(
    "special-category-condition",
    "error",
    "a special category (GDPR Art. 9) used without consent or an Art. 9(2) condition",
)
def special_category_condition(ctx: Context) -> Iterator[Finding]:
    manifest = ctx.manifest
    special = {key for key, entry in manifest.taxonomy.categories.items() if entry.special}
    uncovered = {
        key
        for key, purpose in manifest.purposes.items()
        if not purpose.is_consent and purpose.special_condition is None
    }
    for path, _, _, collect in collects(manifest):
        lacking = [p for p in collect.purposes if p in uncovered]
        for j, category in enumerate(collect.categories if lacking else ()):
            if category in special:
                yield ctx.finding(
                    "special-category-condition",
                    (*path, "categories", j),
                    f"'{category}' is a special category (GDPR Art. 9) but purpose "
                    f"{', '.join(repr(p) for p in lacking)} has neither consent nor a "
                    "special_condition",
                    "give the purpose `legal_basis: consent` for explicit consent, or a "
                    "`special_condition:` such as employment or health_care",
                )


def tracker_refusable(manifest: Manifest, tracker: Tracker) -> bool:
    """Whether people can say no: a purpose the banner asks for or a programme they can
    leave, or the provider's opt-out."""
    purposes = manifest.purposes
    return bool(tracker.opt_out_url) or any(
        p in purposes and (purposes[p].is_consent or purposes[p].program) for p in tracker.purposes
    )


@rule("tracker-uncovered", "error", "a non-essential tracker with neither consent nor opt-out")
def tracker_uncovered(ctx: Context) -> Iterator[Finding]:
    for i, tracker in enumerate(ctx.manifest.trackers):
        if tracker.category == "strictly_necessary" or tracker_refusable(ctx.manifest, tracker):
            continue
        yield ctx.finding(
            "tracker-uncovered",
            ("trackers", i, "category"),
            f"{tracker.category} tracker '{tracker.name}' is neither asked for nor can be refused: "
            "none of its purposes is consent-based or needs a programme, and it has no "
            "opt_out_url (P-G12)",
            "add a purpose with `legal_basis: consent`, or an `opt_out_url:`",
        )


def _offers_sale_opt_out(manifest: Manifest) -> bool:
    """Whether opt-out of sale/sharing is offered in California (unset: where law grants)."""
    config = manifest.rights.get("opt_out_sale_sharing")
    return config is not None and (config.jurisdictions is None or "us-ca" in config.jurisdictions)


@rule("sale-without-opt-out", "error", "data sold or shared without a California opt-out right")
def sale_without_opt_out(ctx: Context) -> Iterator[Finding]:
    manifest = ctx.manifest
    if "us-ca" not in manifest.jurisdictions or _offers_sale_opt_out(manifest):
        return
    for key, recipient in manifest.recipients.items():
        for flag in ("sale", "sharing"):
            if getattr(recipient, flag):
                yield ctx.finding(
                    "sale-without-opt-out",
                    ("recipients", key, flag),
                    f"giving data to recipient '{key}' is {'a sale' if flag == 'sale' else flag} "
                    "under the CCPA, but California residents are not offered the opt-out of "
                    "sale and sharing (P-G4, P-S17)",
                    "add `rights: {opt_out_sale_sharing: {jurisdictions: [us-ca]}}`",
                    key=True,
                )
