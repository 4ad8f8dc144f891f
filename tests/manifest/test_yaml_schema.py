"""YAML 1.2 core schema: `NO` is Norway, not false (the Norway problem), manifests and datasets."""

from __future__ import annotations

import math
from typing import Any

import pytest
from lintutil import Small

from pledge.manifest.source import parse_yaml

ACCOUNTS = "datasets/accounts.yml"


def _data(text: str) -> Any:
    data, _source, findings = parse_yaml(text, "t.yaml")
    assert findings == []
    return data


@pytest.mark.parametrize(
    "word", ["NO", "No", "no", "ON", "on", "OFF", "off", "YES", "Yes", "yes", "Y", "y", "n", "N"]
)
def test_yaml_1_1_booleans_are_strings(word: str) -> None:
    assert _data(f"a: {word}\nb: [{word}]\n") == {"a": word, "b": [word]}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("FALSE", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("10", 10),
        ("010", 10),  # YAML 1.1: octal 8
        ("0o10", 8),
        ("0x1F", 31),
        ("-3", -3),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".inf", math.inf),
        ("1_000", "1_000"),  # YAML 1.1: 1000
        ("12:30", "12:30"),  # YAML 1.1: sexagesimal 750
        ("2019-07-01", "2019-07-01"),  # YAML 1.1: a date; the models parse the text
        ("0b101", "0b101"),
    ],
)
def test_core_schema_scalars(text: str, value: Any) -> None:
    assert _data(f"a: {text}\n")["a"] == value
    assert type(_data(f"a: {text}\n")["a"]) is not bool or isinstance(value, bool)


def test_quoted_and_tagged_scalars() -> None:
    data = _data("a: 'true'\nb: !!str 10\nc: !!int '7'\nd: \"1.0\"\n")
    assert data == {"a": "true", "b": "10", "c": 7, "d": "1.0"}


def test_keys_stay_as_written() -> None:
    assert list(_data("NO: 1\n010: 2\n1.0: 3\ntrue: 4\n")) == ["NO", "010", "1.0", "true"]


def test_merge_keys_own_keys_win() -> None:
    data = _data("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")
    assert data["use"] == {"x": 1, "y": 3}


def test_norwegian_manifest_loads_with_strings_where_strings_belong(small: Small) -> None:
    small.edit("    countries: [US, IE]\n", "    countries: [SE, NO]\n")
    small.edit("    locations: [IE, US]\n", "    locations: [NO]\n")
    small.edit(
        "    name: {en: Forum members, nb: Forumsmedlemmer}",
        "    name: {en: ON, nb: YES}",
    )
    field = (
        "          - name: {}\n"
        "            description: {}\n"
        "            data_categories: [user.name]\n"
    )
    small.edit(
        "          - name: name\n            data_categories: [user.name]\n",
        field.format("name", "1.0") + field.format("Y", "Y"),
        ACCOUNTS,
    )
    result = small.check()
    assert [f.format() for f in result.findings if f.severity == "error"] == []
    manifest = result.manifest
    assert manifest is not None
    assert manifest.recipients["cloud_host"].countries == ("SE", "NO")
    assert manifest.systems["accounts"].locations == ("NO",)
    assert manifest.subjects["forum_member"].name.dump() == {"en": "ON", "nb": "YES"}
    [dataset] = manifest.datasets_of("accounts")
    fields = {f.name: f for f in dataset.collections[0].fields}
    assert fields["name"].description == "1.0"
    assert fields["Y"].description == "Y"
    # real booleans and numbers still work where the model expects them
    assert fields["id"].meta.primary_key is True
    assert manifest.pledge == 1
