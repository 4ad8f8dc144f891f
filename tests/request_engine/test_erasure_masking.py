"""Strategies: where a field's comes from, which columns it fits, what it writes."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime

import pytest

from pledge.connectors.base import ColumnInfo, ForeignKey, TableInfo, TableName
from pledge.manifest.datasets import Collection, DatasetField
from pledge.manifest.masking import Strategy, resolve
from pledge.manifest.model import System
from pledge.requests.masking import Fingerprints, generalize_date, masker, problems

KEY = b"0123456789abcdef0123456789abcdef"


def col(
    name: str = "c", kind: str = "string", nullable: bool = True, length: int | None = None
) -> ColumnInfo:
    return ColumnInfo(name, kind, nullable, length, f"{kind.upper()}")  # type: ignore[arg-type]


def table(*columns: ColumnInfo, unique: tuple[str, ...] = (), fk: str | None = None) -> TableInfo:
    name = TableName("t")
    keys = (ForeignKey(name, (fk,), TableName("p"), ("id",)),) if fk else ()
    return TableInfo(name, {c.name: c for c in columns}, ("id",), keys, tuple((u,) for u in unique))


def field(**meta: object) -> DatasetField:
    return DatasetField.model_validate(
        {"name": "c", "data_categories": ["user.name.first"], "fides_meta": meta}
    )


def test_strategy_comes_from_field_then_override_then_system_category() -> None:
    system = System.model_validate(
        {"name": "S", "masking": {"user.name": "hmac", "user.name.first": "string_rewrite"}}
    )
    plain = Collection.model_validate({"name": "t", "fields": [{"name": "c"}]})
    override = Collection.model_validate(
        {
            "name": "t",
            "fides_meta": {"masking_strategy_override": {"strategy": "null_rewrite"}},
            "fields": [{"name": "c"}],
        }
    )
    own = field(masking={"strategy": "hash"})
    assert resolve(own, override, system).name == "hash"  # type: ignore[union-attr]
    assert resolve(field(), override, system).name == "null_rewrite"  # type: ignore[union-attr]
    chosen = resolve(field(), plain, system)
    assert chosen is not None and chosen.name == "string_rewrite"  # the most specific category
    assert resolve(field(), plain, System.model_validate({"name": "S"})) is None


@pytest.mark.parametrize(
    ("strategy", "column", "fragment"),
    [
        (Strategy("null_rewrite"), col(nullable=False), "NOT NULL"),
        (Strategy("hash"), col(kind="integer"), "writes text"),
        (Strategy("hmac"), col(length=16), "holds 16"),
        (Strategy("string_rewrite", {"value": "x" * 9}), col(length=8), "9 characters"),
        (Strategy("string_rewrite", {"value": 5}), col(), "needs `configuration"),
        (Strategy("generalize_date"), col(), "needs a date"),
        (Strategy("aes_encrypt"), col(), "not supported"),
        (Strategy("delete"), col(), "whole rows"),
        (Strategy("random_string_rewrite"), col(kind="uuid"), "writes text"),
    ],
)
def test_strategies_that_cannot_fit_the_column(
    strategy: Strategy, column: ColumnInfo, fragment: str
) -> None:
    found = problems(strategy, column, table(column), has_key=True)
    assert any(fragment in p for p in found), found


def test_constraints_and_keys_are_checked() -> None:
    c = col()
    assert any(
        "unique" in p
        for p in problems(Strategy("string_rewrite"), c, table(c, unique=("c",)), True)
    )
    assert any("foreign key" in p for p in problems(Strategy("hmac"), c, table(c, fk="c"), True))
    assert problems(Strategy("null_rewrite"), c, table(c, fk="c"), True) == []
    assert any("masking key" in p for p in problems(Strategy("hmac"), c, table(c), False))
    for ok in ("null_rewrite", "string_rewrite", "random_string_rewrite", "hash", "hmac"):
        assert problems(Strategy(ok), c, table(c), True) == [], ok
    d = col(kind="datetime", nullable=False)
    assert problems(Strategy("generalize_date"), d, table(d), True) == []


def test_what_the_strategies_write() -> None:
    c = col(length=10)
    keyed = masker(Strategy("hmac"), c, KEY)
    assert keyed.apply("a@x") == hmac.new(KEY, b"a@x", hashlib.sha256).hexdigest()
    assert masker(Strategy("hash"), c, KEY).apply("a@x") not in (keyed.apply("a@x"), "a@x")
    assert masker(Strategy("string_rewrite"), c, None).apply("Alice") == "erased"
    assert masker(Strategy("string_rewrite", {"value": "-"}), c, None).apply("Alice") == "-"
    random = masker(Strategy("random_string_rewrite"), c, None)
    first, second = random.apply("Alice"), random.apply("Alice")
    assert len(first) == 10 and first != second and random.needed("x")
    null = masker(Strategy("null_rewrite"), c, None)
    assert null.apply("x") is None and null.constant and not null.needed(None)
    assert generalize_date(date(1990, 7, 14)) == date(1990, 1, 1)
    moment = datetime(2024, 5, 17, 13, 45, 12, 5, tzinfo=UTC)
    assert generalize_date(moment) == datetime(2024, 1, 1, tzinfo=UTC)
    dates = masker(Strategy("generalize_date"), col(kind="date"), None)
    assert not dates.needed(date(1990, 1, 1)) and dates.needed(date(1990, 2, 1))


def test_fingerprints_tell_values_apart_without_keeping_them() -> None:
    prints = Fingerprints(b"salt" * 4)
    assert prints.exact("a") == prints.exact("a") != prints.exact("A")
    assert prints.exact(1) != prints.exact("1")
    assert prints.loose("Alice@X") == prints.loose("alice@x")
    assert prints.loose(42) == prints.loose("42")
    assert "alice" not in prints.loose("alice")
    assert Fingerprints(b"other" * 4).exact("a") != prints.exact("a")


def test_fides_field_override_is_the_fields_strategy_with_its_rewrite_value() -> None:
    """Fides' `masking_strategy_override` on a field, and its `rewrite_value`, as Fides means."""
    plain = Collection.model_validate({"name": "t", "fields": [{"name": "c"}]})
    system = System.model_validate({"name": "S", "masking": {"user.name": "hmac"}})
    override = {
        "strategy": "string_rewrite",
        "configuration": {"rewrite_value": "1234", "format_preservation": {"suffix": "-test"}},
    }
    chosen = resolve(field(masking_strategy_override=override), plain, system)
    assert chosen is not None and chosen.name == "string_rewrite"
    assert "masking_strategy_override" in chosen.origin
    writes = masker(chosen, col(), None)
    assert writes.apply("Ada") == "1234-test"
    assert problems(chosen, col(length=8), table(col(length=8)), False) == [
        "string_rewrite writes 9 characters but column c holds 8"
    ]
    randomly = masker(
        Strategy(
            "random_string_rewrite",
            {"length": 5, "format_preservation": {"suffix": "@example.com"}},
        ),
        col(),
        None,
    )
    value = randomly.apply("ada@example.org")
    assert len(value) == 17 and value.endswith("@example.com")


def test_fides_field_override_with_a_strategy_pledge_lacks_is_refused_at_planning() -> None:
    plain = Collection.model_validate({"name": "t", "fields": [{"name": "c"}]})
    chosen = resolve(
        field(masking_strategy_override={"strategy": "pseudonymize"}),
        plain,
        System.model_validate({"name": "S"}),
    )
    assert chosen is not None and chosen.name == "pseudonymize"
    assert problems(chosen, col(), table(col()), True) == [
        "'pseudonymize' is not a masking strategy"
    ]


def test_masking_and_the_fides_override_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        field(masking={"strategy": "hash"}, masking_strategy_override={"strategy": "hmac"})
