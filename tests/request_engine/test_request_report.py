"""Reports and state are plain JSON; the erasure state survives a round trip unchanged."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time
from decimal import Decimal

from pledge.requests.report import (
    AccessResult,
    CollectionData,
    ErasureState,
    TargetRow,
    decode_key,
    encode_key,
    json_value,
)


def test_keys_of_every_type_survive_json() -> None:
    values = [
        1,
        "x",
        None,
        True,
        1.5,
        uuid.UUID(int=7),
        Decimal("1.10"),
        date(2024, 1, 2),
        datetime(2024, 1, 2, 3, 4, 5),
        time(1, 2),
        b"\x00\xff",
    ]
    for value in values:
        assert decode_key(json.loads(json.dumps(encode_key(value)))) == value


def test_erasure_state_round_trip() -> None:
    state = ErasureState(
        {"email": ["a@x"]},
        "00" * 16,
        "plan",
        {"app.users": [TargetRow((uuid.UUID(int=1),), "mask", {"email": "d1"})]},
        ["i1"],
        {"app.users": 1},
        ["collect"],
        {"app.users": {"rows_masked": 1}},
        None,
    )
    again = ErasureState.from_json(json.loads(json.dumps(state.to_json())))
    assert again == state
    copy = state.copy()
    copy.done.append("erase:app.users")
    assert state.done == ["collect"]


def test_access_result_as_json() -> None:
    result = AccessResult(
        (CollectionData("s", "d", "c", ("id", "at", "blob"), ((1, date(2024, 1, 2), b"\x01"),)),)
    )
    data = result.to_json()
    assert data["collections"][0]["rows"] == [{"id": 1, "at": "2024-01-02", "blob": "AQ=="}]
    assert json_value(Decimal("2.50")) == "2.50"
    assert json_value(float("nan")) == "nan"
    assert result.by_system()["s"][0].node == "d.c"
