"""Rectification: corrections land in the fields that hold the category, nowhere else, and
no value (old or new) appears in the report or in errors."""

from __future__ import annotations

import json

import pytest
from dsr_shop import ALICE, changed_fields, column, snapshot

from pledge.manifest.graph import PlanError
from pledge.requests.engine import Engine


def changes(before: dict, after: dict) -> dict[tuple[str, object], set[str]]:  # type: ignore[type-arg]
    return {
        (table, key): changed_fields(row, after[table][key], table)
        for table, rows in before.items()
        for key, row in rows.items()
        if after[table][key] != row
    }


def test_rectification_changes_only_the_target_fields(engine: Engine, shop_url: str) -> None:
    before = snapshot(shop_url)

    report = engine.rectify(
        {"email": [ALICE]},
        {
            "user.contact.phone_number": "+47 999 99 999",
            "shop.customers.full_name": "Alice Newname",
            "user.unknown": "x",
        },
    )

    after = snapshot(shop_url)
    assert changes(before, after) == {("customers", 1): {"phone", "full_name"}}
    assert column("customers", after["customers"][1], "full_name") == "Alice Newname"
    assert report.unmatched == ("user.unknown",)
    text = json.dumps(report.to_json())
    assert "Alice" not in text and "999" not in text


def test_a_new_email_replaces_the_old_one_wherever_it_identifies_the_person(
    engine: Engine, shop_url: str
) -> None:
    before = snapshot(shop_url)

    engine.rectify({"email": [ALICE]}, {"user.contact.email": "alice@new.example"})

    after = snapshot(shop_url)
    assert changes(before, after) == {
        ("customers", 1): {"email"},
        ("orders", 10): {"contact_email"},  # shared with Bob: it held Alice's address
        ("orders", 11): {"contact_email"},
        ("newsletter", 900): {"email"},
        ("tickets", 1): {"requester_email"},
        ("tickets", 2): {"requester_email"},
        ("ticket_messages", 1): {"author"},
        ("ticket_messages", 3): {"author"},  # not message 2: the agent wrote it
    }
    assert column("orders", after["orders"][10], "contact_email") == "alice@new.example"
    assert engine.access({"email": ["alice@new.example"]}).collection("shop.customers")


def test_a_correction_that_cannot_fit_changes_nothing_and_names_no_value(
    engine: Engine, shop_url: str
) -> None:
    before = snapshot(shop_url)
    too_long = "+47 " + "9" * 40

    with pytest.raises(PlanError) as caught:
        engine.rectify({"email": [ALICE]}, {"user.contact.phone_number": too_long})

    assert "shop.customers.phone" in str(caught.value)
    assert too_long not in str(caught.value)
    assert snapshot(shop_url) == before
