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
