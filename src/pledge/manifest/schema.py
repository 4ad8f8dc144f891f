"""JSON Schema of the manifest, generated from the models so it cannot drift."""

from __future__ import annotations

from typing import Any

from pledge.manifest.model import Manifest


def manifest_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://pledge.invalid/schema/pledge-1.json"
    schema["title"] = "Pledge manifest (pledge.yaml), format 1"
    return schema
