"""The deadline calendar against known dates: month ends, leap years, business days."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from pledge.policy import add_business_days, deadline_for, jurisdiction_for_country, sla_state


def d(y: int, m: int, day: int, h: int = 12) -> datetime:
    return datetime(y, m, day, h)


@pytest.mark.parametrize(
    ("received", "due", "extended"),
    [
        (d(2025, 3, 15), d(2025, 4, 15), d(2025, 6, 15)),  # the corresponding day
        (d(2025, 1, 31), d(2025, 2, 28), d(2025, 4, 30)),  # no 31 Feb: the month's last day
        (d(2024, 1, 31), d(2024, 2, 29), d(2024, 4, 30)),  # leap year
        (d(2024, 2, 29), d(2024, 3, 29), d(2024, 5, 29)),
        (d(2025, 12, 31), d(2026, 1, 31), d(2026, 3, 31)),  # over the year end
        (d(2025, 11, 30), d(2025, 12, 30), d(2026, 2, 28)),  # extension lands on a short month
        (d(2023, 10, 31), d(2023, 11, 30), d(2024, 1, 31)),
    ],
)
def test_gdpr_one_calendar_month_extendable_by_two(
    received: datetime, due: datetime, extended: datetime
) -> None:
    for jurisdiction in ("eu", "uk"):
        deadline = deadline_for(jurisdiction, "access", received)
        assert deadline.due == due
        assert deadline.extended_due == extended
        assert deadline.extend_notice_by == due  # reasons sent within the first month


@pytest.mark.parametrize(
    ("received", "due", "extended", "confirm_by"),
    [
        # Friday 2025-01-03: 45 days → 2025-02-17; +45 → 2025-04-03; 10 business days → 01-17
        (d(2025, 1, 3), d(2025, 2, 17), d(2025, 4, 3), d(2025, 1, 17)),
        # over a leap day: 2024-02-01 + 45 days = 2024-03-17
        (d(2024, 2, 1), d(2024, 3, 17), d(2024, 5, 1), d(2024, 2, 15)),
    ],
)
def test_california_45_plus_45_and_receipt_in_10_business_days(
    received: datetime, due: datetime, extended: datetime, confirm_by: datetime
) -> None:
    deadline = deadline_for("us-ca", "erasure", received)
    assert (deadline.due, deadline.extended_due, deadline.confirm_by) == (
        due,
        extended,
        confirm_by,
    )


def test_california_sale_opt_out_within_15_business_days() -> None:
    # Monday 2025-06-02 + 15 business days = Monday 2025-06-23
    assert deadline_for("us-ca", "opt_out_sale_sharing", d(2025, 6, 2)).due == d(2025, 6, 23)


def test_california_limit_on_sensitive_data_within_15_business_days() -> None:
    # CPRA regs §7027(g): as soon as feasible, at the latest within 15 business days
    deadline = deadline_for("us-ca", "limit_sensitive", d(2025, 6, 2))
    assert (deadline.due, deadline.extended_due) == (d(2025, 6, 23), None)


def test_business_days_skip_weekends_and_given_holidays() -> None:
    friday = d(2025, 7, 4)
    assert add_business_days(friday, 1) == d(2025, 7, 7)
    assert add_business_days(friday, 1, {date(2025, 7, 7)}) == d(2025, 7, 8)


def test_other_jurisdictions_use_the_manifest_default() -> None:
    from pledge.manifest.types import Duration

    assert deadline_for("global", "access", d(2025, 1, 1)).due == d(2025, 1, 31)
    assert deadline_for("global", "access", d(2025, 1, 1), Duration("P45D")).due == d(2025, 2, 15)


def test_countries_map_to_jurisdictions() -> None:
    assert jurisdiction_for_country("no") == "eu"  # EEA
    assert jurisdiction_for_country("GB") == "uk"
    assert jurisdiction_for_country("US", "CA") == "us-ca"
    assert jurisdiction_for_country("US", "TX") == "global"
    assert jurisdiction_for_country("IN") == "global"


def test_sla_states() -> None:
    due = d(2025, 5, 31)
    assert sla_state(due, d(2025, 5, 1)) == "on_track"
    assert sla_state(due, d(2025, 5, 28)) == "due_soon"
    assert sla_state(due, d(2025, 6, 1)) == "overdue"
