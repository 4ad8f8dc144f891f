"""Lint rules: the law each notice is for, and the rights and consent that law demands.

Which law applies comes from `jurisdictions`, else from the organisation's own country; which
rights each law makes a notice state comes from `NOTICE_RIGHTS`. A notice only ever shows the
rights the manifest offers, so a right the law grants but the manifest leaves out is missing
from the notice, and that is an error.
"""

from __future__ import annotations

from collections.abc import Iterator

from pledge.manifest.findings import Finding
from pledge.manifest.jurisdictions import JURISDICTIONS, NOTICE_RIGHTS, NoticeDuty
from pledge.manifest.lint import Context, rule
from pledge.manifest.lint.legal import tracker_refusable
from pledge.manifest.model import Manifest, Tracker
from pledge.manifest.source import Path

# Laws under which a non-essential cookie needs consent (ePrivacy Directive Art. 5(3); PECR
# reg. 6 in the UK), whatever the legal basis of the processing that follows.
COOKIE_CONSENT_LAWS = {"eu": "ePrivacy Directive Art. 5(3)", "uk": "PECR reg. 6"}


def _dotted(path: Path) -> str:
    return ".".join(str(p) for p in path)


def _law(jurisdiction: str) -> str:
    info = JURISDICTIONS.get(jurisdiction)
    return info.law if info is not None and info.law else jurisdiction


# --- notice-right-missing ---------------------------------------------------------------------


def _covered(manifest: Manifest) -> dict[str, list[str]]:
    """Each jurisdiction the manifest or a notice speaks to, with the notices stating it."""
    covered: dict[str, list[str]] = {j: [] for j in manifest.jurisdictions}
    for key in manifest.notices:
        for jurisdiction in manifest.jurisdictions_of_notice(key):
            covered.setdefault(jurisdiction, []).append(key)
    return covered


# Sensitive personal information used only to provide the service or keep it secure gives no
# right to limit (CCPA Regulations § 7027(m)); those are the taxonomy's essential uses.
ESSENTIAL = "essential."


def _why(manifest: Manifest, duty: NoticeDuty) -> str | None:
    """Why a conditional right is owed ('' when always), or None when it is not owed."""
    if duty == "always":
        return ""
    if duty == "consent":
        consent = [k for k, p in manifest.purposes.items() if p.is_consent]
        return f", because purpose '{consent[0]}' relies on consent" if consent else None
    if duty == "sale_or_sharing":
        selling = [k for k, r in manifest.recipients.items() if r.sale or r.sharing]
        return f", because recipient '{selling[0]}' buys or shares data" if selling else None
    found = [
        (c, p)
        for system in manifest.systems.values()
        if system.role == "controller"
        for collect in system.collects
        for p in collect.purposes
        if not p.startswith(ESSENTIAL)
        for c in collect.categories
        if (entry := manifest.category(c)) is not None and entry.sensitive
    ]
    if not found:
        return None
    return f", because sensitive '{found[0][0]}' is used for '{found[0][1]}'"


def _where(manifest: Manifest, jurisdiction: str, notices: list[str], kind: str) -> Path:
    """The node to change: the right's own limit, else the notice, else `jurisdictions`."""
    config = next((c for k, c in manifest.rights.items() if k == kind), None)
    if config is not None and config.jurisdictions is not None:
        return ("rights", kind, "jurisdictions")
    if notices:
        explicit = manifest.notices[notices[0]].jurisdictions is not None
        return ("notices", notices[0], "jurisdictions") if explicit else ("notices", notices[0])
    return ("jurisdictions",)


@rule(
    "notice-right-missing",
    "error",
    "a right the law of a notice's jurisdiction grants that the manifest does not offer there",
)
def notice_right_missing(ctx: Context) -> Iterator[Finding]:
    manifest = ctx.manifest
    for jurisdiction, notices in _covered(manifest).items():
        offered = manifest.rights_in(jurisdiction)
        for kind, (duty, article) in NOTICE_RIGHTS.get(jurisdiction, {}).items():
            why = _why(manifest, duty)
            if kind in offered or why is None:
                continue
            if duty == "sale_or_sharing" and "us-ca" in manifest.jurisdictions:
                continue  # `sale-without-opt-out` reports it, at the recipient that buys
            limited = kind in manifest.rights
            named = (
                f"notice '{notices[0]}' leaves"
                if len(notices) == 1
                else (f"notices {', '.join(repr(n) for n in notices)} leave")
            )
            path = _where(manifest, jurisdiction, notices, kind)
            yield ctx.finding(
                "notice-right-missing",
                path,
                f"{_law(jurisdiction)} ({jurisdiction}) grants the right `{kind}` "
                f"({article}){why}, but the manifest does not offer it there, so "
                + (f"{named} it out" if notices else "nobody can use it"),
                f"add {jurisdiction} to `rights.{kind}.jurisdictions`"
                if limited
                else f"add `{kind}:` under `rights:`",
                key=path[0] == "notices" and len(path) == 2,
            )


# --- tracker-consent --------------------------------------------------------------------------


def _rests_on_consent(manifest: Manifest, tracker: Tracker, jurisdiction: str) -> bool:
    """Every purpose of the tracker is asked for first: consent, or an opt-in programme."""
    purposes = [manifest.purposes.get(p) for p in tracker.purposes]
    return bool(purposes) and all(
        p is not None
        and (
            p.is_consent
            or (
                p.program is not None
                and p.program in manifest.programs
                and manifest.programs[p.program].default_in(jurisdiction) == "opt_in"
            )
        )
        for p in purposes
    )


@rule(
    "tracker-consent",
    "warning",
    "a non-essential tracker in the EU or UK that rests on anything but consent",
)
def tracker_consent(ctx: Context) -> Iterator[Finding]:
    manifest = ctx.manifest
    laws = [j for j in COOKIE_CONSENT_LAWS if j in manifest.jurisdictions]
    for i, tracker in enumerate(manifest.trackers):
        if tracker.category == "strictly_necessary" or not tracker_refusable(manifest, tracker):
            continue  # `tracker-uncovered` reports a tracker nobody can refuse
        lacking = [j for j in laws if not _rests_on_consent(manifest, tracker, j)]
        if lacking:
            laws_text = " and ".join(COOKIE_CONSENT_LAWS[j] for j in lacking)
            yield ctx.finding(
                "tracker-consent",
                ("trackers", i, "category"),
                f"{tracker.category} tracker '{tracker.name}' is set without asking first in "
                f"{', '.join(lacking)}, where {laws_text} "
                "needs consent for anything not strictly necessary; an opt-out or legitimate "
                "interests are not enough",
                "serve only purposes with `legal_basis: consent` (or an opt_in programme there) "
                "with this tracker",
            )


# --- which law applies ------------------------------------------------------------------------

_CHECKED_LAWS = tuple(j for j in JURISDICTIONS if j != "global")


@rule(
    "jurisdiction-unstated",
    "warning",
    "nothing says which law applies, so only the global baseline is checked",
)
def jurisdiction_unstated(ctx: Context) -> Iterator[Finding]:
    manifest = ctx.manifest
    if "jurisdictions" in manifest.model_fields_set or manifest.jurisdictions != ("global",):
        return
    home = manifest.home
    why = (
        "`organization` names no country"
        if home is None
        else f"Pledge knows no law of {home.place}, the organisation's country"
    )
    unchecked = ", ".join(f"{_law(j)} ({j})" for j in _CHECKED_LAWS)
    yield ctx.finding(
        "jurisdiction-unstated",
        home.path if home is not None else ("organization",),
        f"`jurisdictions` is not set and {why}, so only the global baseline is checked; "
        f"left unchecked: {unchecked}",
        "set `jurisdictions:` to where the people you serve live (e.g. [eu, uk, us-ca, global]), "
        "or `organization.country:`",
        key=home is None,
    )


@rule(
    "home-law-missing",
    "warning",
    "`jurisdictions` leaves out the law of the organisation's own country",
)
def home_law_missing(ctx: Context) -> Iterator[Finding]:
    manifest = ctx.manifest
    home = manifest.home
    if home is None or home.jurisdiction == "global" or home.jurisdiction in manifest.jurisdictions:
        return
    yield ctx.finding(
        "home-law-missing",
        ("jurisdictions",),
        f"the organisation is established in {home.place} (`{_dotted(home.path)}`), where "
        f"{_law(home.jurisdiction)} applies, but `jurisdictions` leaves out "
        f"{home.jurisdiction}, so its rules are not checked",
        f"add {home.jurisdiction} to `jurisdictions:`",
    )
