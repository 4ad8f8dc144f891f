"""Fides dataset YAML, loaded unchanged: datasets, collections, nested fields and `fides_meta`.

Pledge adds one optional key, `fides_meta.masking` on a field, for the erasure strategy of that
field; everything else is the Fides format as published.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
DataType = Literal[
    "string",
    "integer",
    "float",
    "boolean",
    "object",
    "object_id",
    "no_op",
    "date",
    "datetime",
    "string[]",
    "integer[]",
    "float[]",
    "boolean[]",
    "object[]",
    "object_id[]",
]


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


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
    data_type: DataType | None = None
    """Type of the values; checked against the masking strategy."""
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
    money: Money | None = None
    """Pledge's extension: the values are amounts of money (how to show them to people)."""


class DatasetField(_Model):
    name: str = Field(min_length=1)
    """Column or attribute name."""
    description: str | None = None
    """What it holds."""
    data_categories: tuple[str, ...] | None = None
    """Data categories of the values."""
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
    """Collection-level erasure strategy (usually `delete`)."""
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
    partitioning: dict[str, Any] | None = None
    """Partitioning hints for large tables."""


class Collection(_Model):
    name: str = Field(min_length=1)
    """Table or collection name."""
    description: str | None = None
    """What it holds."""
    data_categories: tuple[str, ...] | None = None
    """Categories of the whole collection."""
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
    custom_request_fields: dict[str, Any] | None = None
    """Custom request fields accepted."""


class Dataset(_Model):
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
    fides_meta: DatasetMeta | None = None
    """Ordering and namespace."""
    collections: tuple[Collection, ...] = Field(min_length=1)
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
