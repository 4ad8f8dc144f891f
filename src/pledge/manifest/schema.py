"""The manifest format described for machines (JSON Schema) and people (Markdown reference).

Both are generated from the models, so neither can drift from what the loader accepts.
"""

from __future__ import annotations

from typing import Any

from pledge.manifest.lint import all_rules
from pledge.manifest.load import LOAD_RULES
from pledge.manifest.model import Manifest
from pledge.manifest.preflight_rules import PREFLIGHT_RULES
from pledge.manifest.reference import reference_markdown


def manifest_schema() -> dict[str, Any]:
    schema = Manifest.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://pledge.invalid/schema/pledge-1.json"
    schema["title"] = "Pledge manifest (pledge.yaml), format 1"
    return schema


def reference() -> str:
    rules = dict(LOAD_RULES)
    rules.update({r.id: (r.severity, r.summary) for r in all_rules().values()})
    return reference_markdown(rules, dict(PREFLIGHT_RULES))
