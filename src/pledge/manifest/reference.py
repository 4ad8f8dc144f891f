"""The manifest reference (docs/manifest.md), generated from the models so it cannot drift.

Each model becomes a section listing its keys with type, default and description; the prose
around it comes from the model docstrings. A test keeps docs/manifest.md equal to this output.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from pledge.manifest import datasets, model

INTRO = """\
# Manifest reference (`pledge.yaml`, format 1)

This page is generated from Pledge's models by `pledge schema --format markdown`; a test keeps
it current. `pledge schema` prints the same format as JSON Schema for editors.

Conventions:
- **Text** is a string in the manifest's first language or a map `{en: …, nb: …, nl: …}`.
- **Duration** is ISO 8601: `P3Y`, `P13M`, `P30D`, `PT24H`.
- **Country** is ISO 3166-1 alpha-2 in upper case: `US`, `IE`, `IN`.
- **Key** is a dotted taxonomy key such as `user.contact.email` or `essential.service`.
- Secrets never appear: connections name an environment variable (`url_env`).
- Unknown keys are errors, with the nearest valid key suggested (in dataset files, warnings:
  see below).

YAML is read by the YAML 1.2 core schema, the manifest and its datasets alike:
- Only `true` and `false` (also `True`, `TRUE`, `False`, `FALSE`) are booleans, and `null`, `~`
  or nothing is null. `NO`, `ON`, `Y`, `yes` or `off` are the strings they look like, so
  `countries: [SE, NO]` and a language key `no:` mean Norway and Norwegian.
- Numbers have the 1.2 forms: `010` is ten (octal is `0o10`); a number where text belongs
  (`version: 1.0`) is read as the text it was written as. Keys are always text as written.
- Anchors, aliases and merge keys (`<<: *defaults`) work; a mapping's own keys win over merged
  ones. Other tags than the standard `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`,
  `!!seq` are refused.

Limits: every command that reads a manifest (`pledge check`, `serve`, reload, the worker)
refuses, with `file:line:col` (and `pledge check` exit code 2):
- a file that is not a regular file (a pipe, a device, a socket);
- a file over 64 MiB (`PLEDGE_MANIFEST_MAX_BYTES` sets another size in bytes);
- aliases and merge keys that expand to more than 100,000 nodes in one file;
- nesting deeper than 100 levels, and a number longer than 64 characters (quote it if it is
  text).
"""

DATASET_INTRO = """\
## Datasets (Fides format)

Systems name Fides dataset files in `datasets:`, relative to the manifest. They load unchanged:
every dataset the fideslang package accepts loads in Pledge with the same meaning (a contract
test holds this against fideslang itself), including `fidesops_meta` (read as `fides_meta`),
`null` for an absent key, and `type[]` arrays. As in Fides, a key the format does not know is
ignored; `pledge check` warns about it (`dataset-unknown-key`), since it is usually misspelt or
misplaced. Pledge refuses only an empty collection or field name, which names no table or
column.

Fides' erasure options work as Fides defines them: a collection's
`masking_strategy_override: {strategy: delete}` deletes its rows instead of masking fields; a
field's `fides_meta.masking_strategy_override` is that field's strategy, and `string_rewrite`
writes its `configuration.rewrite_value` (with `format_preservation.suffix` appended, also for
`random_string_rewrite`). A strategy Pledge cannot apply is a `pledge check` error.

Pledge's extensions, all in places fideslang ignores, so a dataset using them still loads in
Fides:
- `fides_meta.masking` on a field: its erasure strategy (the same as Fides' field
  `masking_strategy_override`; give one of the two);
- `fides_meta.pledge_type: date | datetime` on a field: the values are dates or timestamps
  (fideslang's data types have none), so `generalize_date` can be checked before a request;
- `configuration`, and field strategies other than `delete`, in a collection's
  `masking_strategy_override` (applied to every field of the collection);
- `fides_meta.custom_request_fields` on a dataset.
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(names) + (" or null" if type(None) in args else "")
    if origin is dict:
        return f"map of {_type_name(args[0])} → {_type_name(args[1])}"
    if origin in (tuple, list):
        return f"list of {_type_name(args[0])}"
    if isinstance(annotation, type):
        return {
            "str": "string",
            "int": "integer",
            "bool": "boolean",
            "date": "date",
            "LocalText": "Text",
            "Duration": "Duration",
        }.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory_takes_validated_data:
        return "see meaning"  # computed from other keys, which the meaning names
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return ""
    else:
        value = info.default
    if value in (None, (), {}):
        return "—"
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{getattr(value, 'iso', value)}`"


def _section(title: str, cls: type[BaseModel]) -> list[str]:
    doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    lines = [f"### `{title}` ({cls.__name__})", ""]
    if doc:
        lines += [doc, ""]
    lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, info in cls.model_fields.items():
        meaning = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | {_type_name(info.annotation)} | {_default(info)} | {meaning} |")
    return [*lines, ""]


MANIFEST_SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("(top level)", model.Manifest),
    ("organization", model.Organization),
    ("organization.contact / dpo / representative", model.Contact),
    ("organization.dispute_resolution", model.DisputeResolution),
    ("organization.supervisory_authority", model.Authority),
    ("subjects.<key>", model.SubjectDef),
    ("categories.<key>", model.CategoryDef),
    ("groups.<key>", model.GroupDef),
    ("purposes.<key>", model.Purpose),
    ("programs.<key>", model.Program),
    ("recipients.<key>", model.Recipient),
    ("systems.<key>", model.System),
    ("systems.<key>.collects[]", model.Collect),
    ("systems.<key>.controller", model.ControllerRef),
    ("connections.<key>", model.Connection),
    ("retention.<key>", model.RetentionRule),
    ("backups", model.Backups),
    ("trackers[]", model.Tracker),
    ("rights.<kind>", model.RightConfig),
    ("roles.<key>", model.Role),
    ("notices.<key>", model.Notice),
    ("signals", model.Signals),
    ("security", model.Security),
)
DATASET_SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("dataset[]", datasets.Dataset),
    ("dataset[].fides_meta", datasets.DatasetMeta),
    ("collections[]", datasets.Collection),
    ("collections[].fides_meta", datasets.CollectionMeta),
    ("fields[]", datasets.DatasetField),
    ("fields[].fides_meta", datasets.FieldMeta),
    ("fides_meta.references[]", datasets.Reference),
    ("fides_meta.masking", datasets.Masking),
    ("fields[].fides_meta.masking_strategy_override", datasets.FieldMaskingOverride),
    ("collections[].fides_meta.masking_strategy_override", datasets.MaskingOverride),
)


def reference_markdown(
    rules: dict[str, tuple[str, str]] | None = None,
    connect: dict[str, tuple[str, str]] | None = None,
) -> str:
    """The whole reference; `rules` maps lint rule id → (severity, summary) for the last part,
    `connect` the same for the checks `pledge check --connect` adds."""
    lines = [INTRO, "## Sections", ""]
    for title, cls in MANIFEST_SECTIONS:
        lines += _section(title, cls)
    lines += [DATASET_INTRO]
    for title, cls in DATASET_SECTIONS:
        lines += _section(title, cls)
    if rules:
        lines += [
            "## Checks (`pledge check`)",
            "",
            "Each finding prints as `file:line:col: severity RULE-ID message`.",
            "",
            "| rule | severity | what it catches |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{rid}` | {sev} | {summary} |" for rid, (sev, summary) in sorted(rules.items())
        ]
        lines.append("")
    if connect:
        lines += [
            "### Against the databases (`pledge check --connect`)",
            "",
            "With `--connect`, `pledge check` also opens every connection requests use (it only "
            "reads the schema), compares each collection with its table and plans an erasure "
            "with the request planner; findings point at the dataset line they are about.",
            "",
            "| rule | severity | what it catches |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{rid}` | {sev} | {summary} |" for rid, (sev, summary) in sorted(connect.items())
        ]
        lines.append("")
    return "\n".join(lines)
