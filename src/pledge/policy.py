"""Pure decisions about personal data, made from the manifest and nothing else.

Every service asks here (which rights a person has where, when a request is due, whether a
purpose may run), so the notice and the behaviour cannot drift apart. Imports only `manifest`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pledge.manifest.jurisdictions import JURISDICTIONS, Jurisdiction
from pledge.manifest.model import Manifest, RightConfig
from pledge.manifest.types import Duration

# --- jurisdictions and rights ---------------------------------------------------------------


def jurisdiction_for_country(country: str, region: str | None = None) -> str:
    """The jurisdiction whose law applies to a person in `country` (and US state `region`)."""
    code = country.upper()
    if code == "US" and (region or "").upper() in ("CA", "US-CA"):
        return "us-ca"
    for key, info in JURISDICTIONS.items():
        if code in info.countries:
            return key
    return "global"


def applicable_jurisdiction(manifest: Manifest, jurisdiction: str) -> str:
    """The manifest's jurisdiction to use: the asked one if declared, else `global`."""
    return jurisdiction if jurisdiction in manifest.jurisdictions else "global"


def rights_offered(manifest: Manifest, jurisdiction: str) -> dict[str, RightConfig]:
    """Rights a person in `jurisdiction` may use, with how (verification, fee, approval)."""
    return manifest.rights_in(jurisdiction)


# --- deadlines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """When a request is due, how far it may be extended, and interim duties."""

    due: datetime
    extended_due: datetime | None
    confirm_by: datetime | None = None
    extend_notice_by: datetime | None = None


def add_business_days(
    start: datetime, days: int, holidays: Collection[date] = frozenset()
) -> datetime:
    """`start` plus `days` business days (Monday to Friday, skipping `holidays`)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current.date() not in holidays:
            remaining -= 1
    return current


def deadline_for(
    jurisdiction: str,
    kind: str,
    received: datetime,
    default: Duration | None = None,
    holidays: Collection[date] = frozenset(),
) -> Deadline:
    """The deadline of a request of `kind` received at `received` under `jurisdiction`.

    GDPR (eu, uk): one calendar month, to the corresponding day or the month's last day,
    extendable by two more, the person told of an extension within the first month.
    California: 45 days plus 45, receipt confirmed within 10 business days, and an opt-out
    of sale or sharing honoured within 15 business days.
    """
    law: Jurisdiction | None = JURISDICTIONS.get(jurisdiction)
    if law is None or jurisdiction == "global":
        period = default or Duration(law.deadline if law else "P30D")
        return Deadline(period.add_to(received), None)
    period = Duration(law.deadline)
    due = period.add_to(received)
    # An extension lengthens the whole period (one month plus two is three from receipt).
    extended = (period + Duration(law.extension)).add_to(received) if law.extension else None
    if jurisdiction == "us-ca":
        if kind == "opt_out_sale_sharing":
            return Deadline(add_business_days(received, 15, holidays), None)
        return Deadline(due, extended, confirm_by=add_business_days(received, 10, holidays))
    return Deadline(due, extended, extend_notice_by=due if extended else None)


def sla_state(deadline: datetime, now: datetime, due_soon: timedelta = timedelta(days=7)) -> str:
    """on_track, due_soon or overdue, for queues and reminders."""
    if now > deadline:
        return "overdue"
    if deadline - now <= due_soon:
        return "due_soon"
    return "on_track"
