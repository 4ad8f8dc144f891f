"""The rules of `pledge check --connect` (the preflight against the live databases).

The checks themselves live in `pledge.requests.preflight` (they need the connectors and the
request planner); their ids, severities and summaries live here, beside the lint rules, so
the generated reference (`docs/manifest.md`) lists both.
"""

from __future__ import annotations

from pledge.manifest.findings import Severity

PREFLIGHT_RULES: dict[str, tuple[Severity, str]] = {
    "connection-unreachable": (
        "error",
        "a connection that cannot be opened (its variable unset, the database down or refusing)",
    ),
    "missing-collection": ("error", "a collection with no table in its database"),
    "missing-field": ("error", "a field with no column in its table"),
    "type-mismatch": ("warning", "a field's data_type that its column does not hold"),
    "undeclared-foreign-key": (
        "error",
        "a foreign key between two collections that no fides_meta.references declares",
    ),
    "unplannable-collection": (
        "error",
        "a collection a request could not read or erase, in the request planner's own words "
        "(a NOT NULL column no strategy fits, a strategy its column refuses, no primary key)",
    ),
}
