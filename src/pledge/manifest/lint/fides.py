"""Lint: what a Fides dataset says that Pledge (like Fides) would silently not act on.

Datasets load as fideslang reads them, so keys neither model knows are ignored rather than
refused; a key in the wrong place (a field's `masking_strategy_override` outside `fides_meta`)
would then change nothing, so lint names it. A Fides masking strategy Pledge cannot apply is an
error here, before an erasure request meets it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from pledge.manifest.datasets import KNOWN_STRATEGIES
from pledge.manifest.findings import Finding
from pledge.manifest.lint import Context, rule
from pledge.manifest.source import Path


@rule("dataset-unknown-key", "warning", "a dataset key that neither Fides nor Pledge knows")
def dataset_unknown_key(ctx: Context) -> Iterator[Finding]:
    for loaded in ctx.result.datasets.values():
        if loaded.content is None:
            continue
        for i, dataset in enumerate(loaded.content.dataset):
            for path, key, known in _extras(dataset, ("dataset", i)):
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                yield Finding(
                    loaded.source.locate((*path, key), key=True),
                    "warning",
                    "dataset-unknown-key",
                    f"'{key}' is not a key of the Fides dataset format here, so Fides and "
                    "Pledge ignore it",
                    f"did you mean '{close[0]}'?"
                    if close
                    else "check its spelling and level (field options live under fides_meta)",
                    (*path, key),
                )


@rule(
    "dataset-masking-unsupported",
    "error",
    "a field's masking_strategy_override names a strategy Pledge cannot apply",
)
def dataset_masking_unsupported(ctx: Context) -> Iterator[Finding]:
    for loaded in ctx.result.datasets.values():
        if loaded.content is None:
            continue
        for i, dataset in enumerate(loaded.content.dataset):
            for j, coll in enumerate(dataset.collections):
                for path, fld in _fields(coll.fields, ("dataset", i, "collections", j)):
                    override = fld.meta.masking_strategy_override
                    if override is not None and override.strategy not in KNOWN_STRATEGIES:
                        yield ctx.dataset_finding(
                            "dataset-masking-unsupported",
                            loaded,
                            (*path, "fides_meta", "masking_strategy_override", "strategy"),
                            f"masking strategy '{override.strategy}' is not one Pledge applies",
                            f"use one of {', '.join(sorted(KNOWN_STRATEGIES - {'delete'}))}",
                        )


def _fields(fields: tuple[BaseModel, ...] | None, at: Path) -> Iterator[tuple[Path, Any]]:
    for k, fld in enumerate(fields or ()):
        path = (*at, "fields", k)
        yield path, fld
        yield from _fields(getattr(fld, "fields", None), path)


def _extras(model: BaseModel, at: Path) -> Iterator[tuple[Path, str, list[str]]]:
    """(path of the model, unknown key, known keys) for the model and every model inside."""
    for key in model.model_extra or {}:
        yield at, key, list(type(model).model_fields)
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _extras(value, (*at, name))
        elif isinstance(value, tuple):
            for n, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _extras(item, (*at, name, n))
