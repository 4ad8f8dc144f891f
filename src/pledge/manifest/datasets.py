"""Fides dataset YAML, loaded unchanged: datasets, collections, nested fields and `fides_meta`.

Every dataset that fideslang (the Fides model package) accepts loads here with the same meaning;
`tests/manifest/test_fideslang_contract.py` holds that against fideslang itself. Like fideslang,
keys neither model knows are ignored (kept in `model_extra`, and lint warns, since a misplaced key
is usually a mistake); `fidesops_meta` is read as `fides_meta`. Pledge's extensions, all in
places fideslang ignores: `fides_meta.masking` and `fides_meta.pledge_type` on a field,
`fides_meta.custom_request_fields` on a dataset, `configuration` on a collection's
`masking_strategy_override`, and strategies other than `delete` there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MaskingStrategy = Literal[
    "delete",
    "null_rewrite",
    "string_rewrite",
    "random_string_rewrite",
    "hash",
    "hmac",
    "aes_encrypt",
    "generalize_date",
]
KNOWN_STRATEGIES: frozenset[str] = frozenset(get_args(MaskingStrategy))
DATA_TYPES = frozenset({"string", "integer", "float", "boolean", "object_id", "object"})
"""fideslang's data types; `type[]` is an array of them."""
PledgeType = Literal["date", "datetime"]


def base_type(data_type: str | None) -> tuple[str | None, bool]:
    """A data_type as fideslang reads it: (the type before the first `[]`, whether an array)."""
    if not data_type:
        return None, False
    head, brackets, _ = data_type.partition("[]")
    return head, bool(brackets)


class _Model(BaseModel):
    # A number where text belongs (`version: 1.0`, a field named `2024`) is that text.
    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        populate_by_name=True,
        use_attribute_docstrings=True,
        coerce_numbers_to_str=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        """fideslang treats `key: null` as not given; so do we (the defaults apply)."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class _WithMeta(_Model):
    @model_validator(mode="before")
    @classmethod
    def _fidesops_meta(cls, data: Any) -> Any:
        """`fidesops_meta`, the older name, is read as `fides_meta` (as fideslang does)."""
        if isinstance(data, dict) and "fidesops_meta" in data:
            data = dict(data)
            old = data.pop("fidesops_meta")
            data["fides_meta"] = data.get("fides_meta") or old
        return data


class Reference(_Model):
    dataset: str
    """fides_key of the referenced dataset."""
    field: str = Field(description="collection.field (dotted for nested fields)")
    """collection.field referenced (dotted for nested fields)."""
    direction: Literal["from", "to"] | None = None
    """`from`: the value comes from the referenced field; `to`: it flows there; none: both."""


class Masking(_Model):
    strategy: MaskingStrategy
    """How the field is erased."""
    configuration: dict[str, Any] = Field(default_factory=dict)
    """Options of the strategy (for string_rewrite: `value`)."""


class FieldMaskingOverride(_Model):
    strategy: str
    """A Fides masking strategy (Pledge applies the ones it knows; lint names the others)."""
    configuration: dict[str, Any] = Field(default_factory=dict)
    """Options (string_rewrite: `rewrite_value`; `format_preservation: {suffix: …}`)."""


class Money(_Model):
    """Pledge's extension: the field holds an amount of money (shown as one in packages)."""

    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    """The ISO 4217 currency of every value, when it is fixed."""
    currency_field: str | None = None
    """The field of the same record that holds the currency (ISO 4217)."""
    minor_units: bool = False
    """Values are in the currency's minor unit (cents): 1999 is 19.99."""

    def currency_of(self, record: Mapping[str, Any]) -> str | None:
        """The currency of one record's amount (None when unknown)."""
        if self.currency_field is not None:
            value = record.get(self.currency_field)
            if isinstance(value, str) and len(value) == 3 and value.isalpha():
                return value.upper()
        return self.currency


class FieldMeta(_Model):
    references: tuple[Reference, ...] = ()
    """Links to fields of other collections; requests traverse them."""
    identity: str | None = None
    """The identity this field holds (email, user_id …); requests start here."""
    primary_key: bool = False
    """Whether the field is the collection's primary key."""
    data_type: str | None = None
    """Fides type of the values (`string`, `integer[]` …); checked against the strategy."""
    pledge_type: PledgeType | None = None
    """Pledge's extension: the values are dates or timestamps (fideslang has no date type)."""
    length: int | None = Field(None, ge=1)
    """Maximum length of string values."""
    return_all_elements: bool | None = None
    """For arrays: return every element, not only matching ones."""
    read_only: bool | None = None
    """Never changed by erasure or rectification."""
    custom_request_field: str | None = None
    """A custom request field this field is matched on."""
    masking: Masking | None = None
    """Pledge's extension: the erasure strategy of this field."""
    masking_strategy_override: FieldMaskingOverride | None = None
    """Fides' erasure strategy of this field; read as `masking` when Pledge knows it."""
    redact: Literal["name"] | None = None
    """Fides: redact the field's name in reports (kept as given)."""
    money: Money | None = None
    """Pledge's extension: the values are amounts of money (how to show them to people)."""

    @field_validator("data_type")
    @classmethod
    def _fides_type(cls, value: str | None) -> str | None:
        head, _ = base_type(value)
        if head is not None and head not in DATA_TYPES:
            hint = (
                " (for dates and timestamps write `pledge_type: date` or `pledge_type: datetime`,"
                " a Pledge extension)"
            )
            raise ValueError(
                f"data_type {value!r} is not a Fides type: use one of "
                f"{', '.join(sorted(DATA_TYPES))}, optionally with []"
                + (hint if head in ("date", "datetime") else "")
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _override_as_masking(cls, data: Any) -> Any:
        """Fides' field override is the field's strategy: one name for planning and lint."""
        if not isinstance(data, dict) or not isinstance(
            override := data.get("masking_strategy_override"), dict
        ):
            return data
        if data.get("masking") is not None:
            raise ValueError("give masking or masking_strategy_override, not both")
        if override.get("strategy") in KNOWN_STRATEGIES:
            config = override.get("configuration")
            data = {
                **data,
                "masking": {
                    "strategy": override["strategy"],
                    **({"configuration": config} if config is not None else {}),
                },
            }
        return data

    @property
    def kind(self) -> str | None:
        """The type Pledge checks strategies against: `pledge_type` when given, else data_type."""
        return self.pledge_type or self.data_type


class DatasetField(_WithMeta):
    name: str = Field(min_length=1)
    """Column or attribute name."""
    description: str | None = None
    """What it holds."""
    data_categories: tuple[str, ...] | None = None
    """Data categories of the values."""
    data_uses: tuple[str, ...] | None = None
    """Fides data uses of the values (kept as given)."""
    data_purposes: tuple[str, ...] | None = None
    """Fides' older name for data_uses (kept as given)."""
    data_subjects: tuple[str, ...] | None = None
    """Fides data subjects of the values (kept as given)."""
    fides_meta: FieldMeta | None = None
    """Identity, keys, references, type."""
    fields: tuple[DatasetField, ...] | None = None
    """Nested fields of an object."""
    retention: str | None = None
    """Legacy Fides retention note (kept as given)."""

    @property
    def meta(self) -> FieldMeta:
        return self.fides_meta or _EMPTY_FIELD_META


class MaskingOverride(_Model):
    strategy: MaskingStrategy
    """Collection-level erasure strategy: Fides knows `delete` (rows are deleted, not masked);
    Pledge also takes a field strategy here, applied to every field (an extension)."""
    configuration: dict[str, Any] = Field(default_factory=dict)
    """Options of the strategy."""


class CollectionMeta(_Model):
    after: tuple[str, ...] = ()
    """Collections to visit before this one (dataset.collection)."""
    erase_after: tuple[str, ...] = ()
    """Collections to erase before this one."""
    skip_processing: bool = False
    """Requests skip this collection."""
    masking_strategy_override: MaskingOverride | None = None
    """Strategy for the whole collection."""
    partitioning: dict[str, Any] | tuple[dict[str, Any], ...] | None = None
    """Partitioning hints for large tables."""
    redact: Literal["name"] | None = None
    """Fides: redact the collection's name in reports (kept as given)."""


class Collection(_WithMeta):
    name: str = Field(min_length=1)
    """Table or collection name."""
    description: str | None = None
    """What it holds."""
    data_categories: tuple[str, ...] | None = None
    """Categories of the whole collection."""
    data_uses: tuple[str, ...] | None = None
    """Fides data uses (kept as given)."""
    data_purposes: tuple[str, ...] | None = None
    """Fides' older name for data_uses (kept as given)."""
    data_subjects: tuple[str, ...] | None = None
    """Fides data subjects (kept as given)."""
    fides_meta: CollectionMeta | None = None
    """Ordering and erasure options."""
    fields: tuple[DatasetField, ...] = ()
    """The fields."""

    @property
    def meta(self) -> CollectionMeta:
        return self.fides_meta or _EMPTY_COLLECTION_META

    def iter_fields(self) -> Iterator[tuple[str, DatasetField]]:
        """Every field with its dotted path inside the collection, nested fields included."""
        yield from _walk(self.fields, "")


class DatasetMeta(_Model):
    after: tuple[str, ...] = ()
    """Datasets to visit before this one."""
    namespace: dict[str, Any] | None = None
    """Connector namespace (database schema …)."""
    resource_id: str | None = None
    """Fides resource id (kept as given)."""
    redact: Literal["name"] | None = None
    """Fides: redact the dataset's name in reports (kept as given)."""
    custom_request_fields: dict[str, Any] | None = None
    """Pledge's extension: custom request fields accepted."""


class Dataset(_WithMeta):
    model_config = ConfigDict(coerce_numbers_to_str=True)
    fides_key: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.<>\-]+$")
    """Unique key of the dataset."""
    organization_fides_key: str | None = None
    """Fides organisation key (kept as given)."""
    tags: tuple[str, ...] | None = None
    """Free tags."""
    name: str | None = None
    """Display name."""
    description: str | None = None
    """What the dataset is."""
    meta: dict[str, Any] | None = None
    """Free metadata."""
    data_categories: tuple[str, ...] | None = None
    """Categories of the whole dataset."""
    data_uses: tuple[str, ...] | None = None
    """Fides data uses (kept as given)."""
    data_purposes: tuple[str, ...] | None = None
    """Fides' older name for data_uses (kept as given)."""
    data_subjects: tuple[str, ...] | None = None
    """Fides data subjects (kept as given)."""
    fides_meta: DatasetMeta | None = None
    """Ordering and namespace."""
    collections: tuple[Collection, ...] = ()
    """Tables or collections."""

    def collection(self, name: str) -> Collection | None:
        return next((c for c in self.collections if c.name == name), None)


class DatasetFile(_Model):
    """The top level of a Fides dataset file: `dataset: [ … ]`."""

    dataset: tuple[Dataset, ...] = Field(min_length=1)
    """The datasets in this file."""


def _walk(fields: tuple[DatasetField, ...], prefix: str) -> Iterator[tuple[str, DatasetField]]:
    for f in fields:
        path = f"{prefix}{f.name}"
        yield path, f
        if f.fields:
            yield from _walk(f.fields, path + ".")


_EMPTY_FIELD_META = FieldMeta()
_EMPTY_COLLECTION_META = CollectionMeta()
