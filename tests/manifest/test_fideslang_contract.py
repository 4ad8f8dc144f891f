"""fideslang is the reference for Fides datasets: what it accepts, Pledge loads, meaning the same.

The contract runs one way: every dataset fideslang's `Dataset` model accepts loads in Pledge's
`Dataset` with the same collections, fields (nested ones too), categories, identities,
references with their direction, keys, types, erasure options and ordering; and Pledge's own
example datasets pass fideslang. Pledge may accept more (its documented extensions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fideslang.models import Dataset as FidesDataset
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pledge.manifest.datasets import Collection, Dataset, DatasetField, base_type

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent / "fides_datasets"
OURS = sorted(
    [
        *(ROOT / "examples").rglob("datasets/*.yml"),
        *(ROOT / "tests" / "fixtures").rglob("datasets/*.yml"),
        *(ROOT / "tests" / "request_engine" / "fixtures").rglob("datasets/*.yml"),
    ]
)


# --- one meaning, read from either model ----------------------------------------------------


def _names(values: Any) -> tuple[str, ...]:
    return tuple(values or ())


def fides_field(f: Any) -> dict[str, Any]:
    m = f.fides_meta
    override = m.masking_strategy_override if m else None
    return {
        "categories": _names(f.data_categories),
        "uses": _names(f.data_uses),
        "subjects": _names(f.data_subjects),
        "identity": m.identity if m else None,
        "primary_key": bool(m and m.primary_key),
        "data_type": base_type(m.data_type if m else None),
        "length": m.length if m else None,
        "return_all_elements": m.return_all_elements if m else None,
        "read_only": bool(m and m.read_only),
        "custom_request_field": m.custom_request_field if m else None,
        "references": tuple(
            (r.dataset, r.field, r.direction.value if r.direction else None)
            for r in ((m.references or []) if m else [])
        ),
        "masking": (override.strategy, override.configuration or {}) if override else None,
        "fields": {g.name: fides_field(g) for g in f.fields or []},
    }


def pledge_field(f: DatasetField) -> dict[str, Any]:
    m = f.meta
    override = m.masking_strategy_override
    return {
        "categories": _names(f.data_categories),
        "uses": _names(f.data_uses),
        "subjects": _names(f.data_subjects),
        "identity": m.identity,
        "primary_key": m.primary_key,
        "data_type": base_type(m.data_type),
        "length": m.length,
        "return_all_elements": m.return_all_elements,
        "read_only": bool(m.read_only),
        "custom_request_field": m.custom_request_field,
        "references": tuple((r.dataset, r.field, r.direction) for r in m.references),
        "masking": (override.strategy, dict(override.configuration)) if override else None,
        "fields": {g.name: pledge_field(g) for g in f.fields or ()},
    }


def fides_collection(c: Any) -> dict[str, Any]:
    m = c.fides_meta
    override = m.masking_strategy_override if m else None
    return {
        "categories": _names(c.data_categories),
        "after": _names(m.after if m else None),
        "erase_after": _names(m.erase_after if m else None),
        "skip_processing": bool(m and m.skip_processing),
        "override": override.strategy.value if override else None,
        "partitioning": m.partitioning if m else None,
        "fields": {f.name: fides_field(f) for f in c.fields},
    }


def pledge_collection(c: Collection) -> dict[str, Any]:
    m = c.meta
    partitioning = m.partitioning
    return {
        "categories": _names(c.data_categories),
        "after": m.after,
        "erase_after": m.erase_after,
        "skip_processing": m.skip_processing,
        "override": m.masking_strategy_override.strategy if m.masking_strategy_override else None,
        "partitioning": list(partitioning) if isinstance(partitioning, tuple) else partitioning,
        "fields": {f.name: pledge_field(f) for f in c.fields},
    }


def fides_meaning(d: Any) -> dict[str, Any]:
    m = d.fides_meta
    return {
        "key": d.fides_key,
        "name": d.name,
        "categories": _names(d.data_categories),
        "uses": _names(d.data_uses),
        "after": _names(m.after if m else None),
        "namespace": m.namespace if m else None,
        "collections": {c.name: fides_collection(c) for c in d.collections},
    }


def pledge_meaning(d: Dataset) -> dict[str, Any]:
    m = d.fides_meta
    return {
        "key": d.fides_key,
        "name": d.name,
        "categories": _names(d.data_categories),
        "uses": _names(d.data_uses),
        "after": m.after if m else (),
        "namespace": m.namespace if m else None,
        "collections": {c.name: pledge_collection(c) for c in d.collections},
    }


def assert_same_meaning(raw: dict[str, Any]) -> None:
    """fideslang accepted `raw`: Pledge must load it and read the same thing from it."""
    reference = FidesDataset.model_validate(raw)
    ours = Dataset.model_validate(raw)
    assert pledge_meaning(ours) == fides_meaning(reference)


# --- hand-written datasets -------------------------------------------------------------------


def test_every_fideslang_feature_loads_with_the_same_meaning() -> None:
    datasets = yaml.safe_load((HERE / "every_feature.yml").read_text())["dataset"]
    for raw in datasets:
        assert_same_meaning(raw)
    shop = Dataset.model_validate(datasets[0])
    email = next(f for f in shop.collections[0].fields if f.name == "email")
    assert email.meta.masking is not None  # Fides' override is the strategy Pledge applies
    assert email.meta.masking.strategy == "string_rewrite"
    assert email.meta.masking.configuration["rewrite_value"] == "gone"
    assert shop.collections[0].meta.masking_strategy_override is not None


def test_old_code_refused_what_fideslang_accepts() -> None:
    """The cases that drifted: a field override, an unknown key, `fidesops_meta`, nulls."""
    raw = {
        "fides_key": "drift",
        "collections": [
            {
                "name": "c",
                "fidesops_meta": {"skip_processing": None},
                "fields": [
                    {
                        "name": "f",
                        "masking_strategy_override": {"strategy": "null_rewrite"},
                        "fides_meta": {
                            "primary_key": None,
                            "masking_strategy_override": {"strategy": "hash"},
                        },
                    }
                ],
            }
        ],
    }
    assert_same_meaning(raw)
    loaded = Dataset.model_validate(raw)
    assert loaded.collections[0].fields[0].model_extra == {
        "masking_strategy_override": {"strategy": "null_rewrite"}
    }


@pytest.mark.parametrize("path", OURS, ids=lambda p: str(p.relative_to(ROOT)))
def test_our_own_datasets_pass_fideslang(path: Path) -> None:
    for raw in yaml.safe_load(path.read_text())["dataset"]:
        FidesDataset.model_validate(raw)
        assert_same_meaning(raw)


def test_fideslang_refuses_what_pledge_used_to_write_and_pledge_says_why() -> None:
    raw = {
        "fides_key": "d",
        "collections": [
            {"name": "c", "fields": [{"name": "at", "fides_meta": {"data_type": "datetime"}}]}
        ],
    }
    with pytest.raises(ValidationError):
        FidesDataset.model_validate(raw)
    with pytest.raises(ValidationError, match="pledge_type"):
        Dataset.model_validate(raw)


# --- generated datasets ---------------------------------------------------------------------

NAMES = st.sampled_from(["id", "email", "name", "address", "city", "orders", "user", "x-1"])
KEYS = st.sampled_from(["shop", "mail", "crm.v2", "a_b", "<ns>", "bad key", ""])
CATEGORIES = st.lists(
    st.sampled_from(["user", "user.contact.email", "system.operations", "user.name"]),
    max_size=2,
)
TYPES = st.sampled_from(
    ["string", "integer", "float", "boolean", "object_id", "object", "date", "no_op"]
).flatmap(lambda t: st.sampled_from([t, t + "[]"]))
STRATEGIES = st.sampled_from(["null_rewrite", "string_rewrite", "hmac", "pseudonymize"])
CONFIG = st.fixed_dictionaries(
    {},
    optional={
        "rewrite_value": st.sampled_from(["gone", "1234"]),
        "length": st.integers(1, 9),
        "format_preservation": st.just({"suffix": "-x"}),
    },
)


def _reference() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"dataset": KEYS, "field": st.sampled_from(["c.id", "orders.user.id", "c"])},
        optional={"direction": st.sampled_from(["from", "to", None])},
    )


def _field_meta() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "identity": st.sampled_from(["email", "phone_number", None]),
            "primary_key": st.sampled_from([True, False, None]),
            "data_type": TYPES,
            "length": st.integers(-1, 300),
            "return_all_elements": st.booleans(),
            "read_only": st.booleans(),
            "custom_request_field": st.sampled_from(["site_id", None]),
            "references": st.lists(_reference(), max_size=2),
            "masking_strategy_override": st.fixed_dictionaries(
                {"strategy": STRATEGIES}, optional={"configuration": CONFIG}
            ),
            "redact": st.just("name"),
        },
    )


def _field(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "description": st.text(max_size=5),
        "data_categories": CATEGORIES,
        "data_uses": st.lists(st.just("essential.service"), max_size=1),
        "data_subjects": st.lists(st.just("customer"), max_size=1),
        "fides_meta": _field_meta(),
        "fidesops_meta": _field_meta(),
    }
    if depth > 0:
        optional["fields"] = st.lists(_field(depth - 1), max_size=2)
    return st.fixed_dictionaries({"name": NAMES}, optional=optional)


COLLECTION_META = st.fixed_dictionaries(
    {},
    optional={
        "after": st.lists(st.sampled_from(["shop.orders", "mail.c", "nodot"]), max_size=2),
        "erase_after": st.lists(st.sampled_from(["shop.orders", "mail.c"]), max_size=2),
        "skip_processing": st.sampled_from([True, False, None]),
        "masking_strategy_override": st.fixed_dictionaries(
            {"strategy": st.sampled_from(["delete", "hmac"])}
        ),
        "partitioning": st.sampled_from([{"where_clauses": ["a > 1"]}, [{"field": "a"}]]),
    },
)
COLLECTION = st.fixed_dictionaries(
    {"name": NAMES, "fields": st.lists(_field(2), max_size=4)},
    optional={
        "data_categories": CATEGORIES,
        "fides_meta": COLLECTION_META,
        "fidesops_meta": COLLECTION_META,
    },
)
DATASET = st.fixed_dictionaries(
    {"fides_key": KEYS, "collections": st.lists(COLLECTION, max_size=3)},
    optional={
        "name": st.one_of(st.text(max_size=5), st.integers(0, 9)),
        "description": st.text(max_size=5),
        "data_categories": CATEGORIES,
        "data_uses": st.lists(st.just("essential.service"), max_size=1),
        "tags": st.lists(st.sampled_from(["a", "b"]), max_size=2),
        "meta": st.just({"owner": "team"}),
        "fides_meta": st.fixed_dictionaries(
            {},
            optional={
                "after": st.lists(KEYS, max_size=2),
                "namespace": st.just({"schema": "public"}),
                "resource_id": st.just("r1"),
            },
        ),
        "surprise": st.just("an unknown key"),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(DATASET)
def test_generated_datasets_fideslang_accepts_load_with_the_same_meaning(
    raw: dict[str, Any],
) -> None:
    try:
        FidesDataset.model_validate(raw)
    except ValidationError:
        assume(False)
    assert_same_meaning(raw)
