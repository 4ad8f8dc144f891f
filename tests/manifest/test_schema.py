"""`pledge schema` emits a JSON Schema that editors can use to validate pledge.yaml."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pledge.cli import build
from pledge.manifest.model import Manifest


def test_schema_command_prints_json_schema_of_every_section() -> None:
    result = CliRunner().invoke(build(), ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(Manifest.model_fields) <= set(schema["properties"])
    assert "pledge" in schema["required"] and "organization" in schema["required"]
    assert schema["additionalProperties"] is False


def test_docs_manifest_reference_is_current() -> None:
    """docs/manifest.md is generated; regenerate with `pledge schema --format markdown`."""
    from pathlib import Path

    from pledge.manifest.schema import reference

    docs = Path(__file__).parents[2] / "docs" / "manifest.md"
    assert docs.read_text(encoding="utf-8") == reference(), (
        "docs/manifest.md is stale: run `pledge schema --format markdown > docs/manifest.md`"
    )


def test_every_key_of_the_format_is_documented() -> None:
    from pledge.manifest.reference import DATASET_SECTIONS, MANIFEST_SECTIONS, reference_markdown

    text = reference_markdown()
    for _, cls in MANIFEST_SECTIONS + DATASET_SECTIONS:
        for name, info in cls.model_fields.items():
            assert f"| `{name}` |" in text
            assert info.description, f"{cls.__name__}.{name} has no description"
