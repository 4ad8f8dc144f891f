"""Fides dataset YAML, loaded unchanged: datasets, collections, nested fields and `fides_meta`.

Pledge adds one optional key, `fides_meta.masking` on a field, for the erasure strategy of that
field; everything else is the Fides format as published.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Reference(_Model):
    dataset: str
    field: str = Field(description="collection.field (dotted for nested fields)")
    direction: Literal["from", "to"] | None = None


class Masking(_Model):
    strategy: MaskingStrategy
    configuration: dict[str, Any] = Field(default_factory=dict)


class FieldMeta(_Model):
    references: tuple[Reference, ...] = ()
    identity: str | None = None
    primary_key: bool = False
    data_type: DataType | None = None
    length: int | None = Field(None, ge=1)
    return_all_elements: bool | None = None
    read_only: bool | None = None
    custom_request_field: str | None = None
    masking: Masking | None = None


class DatasetField(_Model):
    name: str = Field(min_length=1)
    description: str | None = None
    data_categories: tuple[str, ...] | None = None
    fides_meta: FieldMeta | None = None
    fields: tuple[DatasetField, ...] | None = None
    retention: str | None = None

    @property
    def meta(self) -> FieldMeta:
        return self.fides_meta or _EMPTY_FIELD_META


class MaskingOverride(_Model):
    strategy: MaskingStrategy
    configuration: dict[str, Any] = Field(default_factory=dict)


class CollectionMeta(_Model):
    after: tuple[str, ...] = ()
    erase_after: tuple[str, ...] = ()
    skip_processing: bool = False
    masking_strategy_override: MaskingOverride | None = None
    partitioning: dict[str, Any] | None = None


class Collection(_Model):
    name: str = Field(min_length=1)
    description: str | None = None
    data_categories: tuple[str, ...] | None = None
    fides_meta: CollectionMeta | None = None
    fields: tuple[DatasetField, ...] = ()

    @property
    def meta(self) -> CollectionMeta:
        return self.fides_meta or _EMPTY_COLLECTION_META

    def iter_fields(self) -> Iterator[tuple[str, DatasetField]]:
        """Every field with its dotted path inside the collection, nested fields included."""
        yield from _walk(self.fields, "")


class DatasetMeta(_Model):
    after: tuple[str, ...] = ()
    namespace: dict[str, Any] | None = None
    custom_request_fields: dict[str, Any] | None = None


class Dataset(_Model):
    fides_key: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.<>\-]+$")
    organization_fides_key: str | None = None
    tags: tuple[str, ...] | None = None
    name: str | None = None
    description: str | None = None
    meta: dict[str, Any] | None = None
    data_categories: tuple[str, ...] | None = None
    fides_meta: DatasetMeta | None = None
    collections: tuple[Collection, ...] = Field(min_length=1)

    def collection(self, name: str) -> Collection | None:
        return next((c for c in self.collections if c.name == name), None)


class DatasetFile(_Model):
    """The top level of a Fides dataset file: `dataset: [ … ]`."""

    dataset: tuple[Dataset, ...] = Field(min_length=1)


def _walk(fields: tuple[DatasetField, ...], prefix: str) -> Iterator[tuple[str, DatasetField]]:
    for f in fields:
        path = f"{prefix}{f.name}"
        yield path, f
        if f.fields:
            yield from _walk(f.fields, path + ".")


_EMPTY_FIELD_META = FieldMeta()
_EMPTY_COLLECTION_META = CollectionMeta()
