"""E-mail identities match the organisation's rows regardless of letter case, on SQLite,
PostgreSQL and MariaDB alike, and the reports say when a match differed only in case."""

from __future__ import annotations

from dsr_shop import ALICE, ALICE_ACCESS, execute, snapshot

from pledge.requests.engine import Engine

SHOUTED = "Alice@Example.COM"


def test_a_row_spelled_in_other_case_is_the_same_person(engine: Engine, shop_url: str) -> None:
    # ticket 2 is reached by its e-mail only (no customer id): it must still be found
    execute(shop_url, f"UPDATE tickets SET requester_email = '{SHOUTED}' WHERE id = 2")

    result = engine.access({"email": [ALICE]})

    assert {c.node: {r[0] for r in c.rows} for c in result.collections} == ALICE_ACCESS
    tickets = result.collection("support.tickets")
    assert tickets is not None and tickets.case_only_rows == 1
    assert tickets.to_json()["case_only_rows"] == 1
    customers = result.collection("shop.customers")
    assert customers is not None and customers.case_only_rows == 0
    # asked in another case, every row differs only in case from what was asked
    shouted = engine.access({"email": [SHOUTED]}).collection("support.tickets")
    assert shouted is not None and shouted.case_only_rows == 1  # ticket 1 (ticket 2 is exact)


def test_erasure_reaches_the_row_and_reports_it(engine: Engine, shop_url: str) -> None:
    execute(shop_url, f"UPDATE tickets SET requester_email = '{SHOUTED}' WHERE id = 2")

    report = engine.erase({"email": [ALICE]})

    assert report.status == "completed"
    after = snapshot(shop_url)
    assert 2 not in after["tickets"] or SHOUTED not in after["tickets"][2]
    [tickets] = [c for c in report.collections if c.collection == "tickets"]
    assert tickets.case_only_rows == 1 and tickets.to_json()["case_only_rows"] == 1


def test_accents_and_trailing_spaces_are_other_people(engine: Engine, shop_url: str) -> None:
    """MariaDB's default collation calls `alicé@` and `alice@ ` equal to `alice@`: not Pledge."""
    execute(
        shop_url,
        "UPDATE tickets SET requester_email = 'alicé@example.com' WHERE id = 3",
        "UPDATE tickets SET requester_email = 'alice@example.com ' WHERE id = 4",
    )

    found = engine.access({"email": [ALICE]}).collection("support.tickets")

    assert found is not None and {r[0] for r in found.rows} == {1, 2}
