"""YAML with positions: parse a file into plain data plus the line and column of every node.

We build the data from libyaml's event stream ourselves (PyYAML's C parser), for three reasons:
- **YAML 1.2 core schema.** PyYAML resolves scalars by YAML 1.1, where `NO`, `ON`, `Y`, `off`
  are booleans and `010` is octal, so `countries: [SE, NO]` failed. Here only
  `true`/`false` (also `True`, `TRUE` …) are booleans, `null`/`~`/empty are null, and numbers
  have the 1.2 forms; everything else is the string it looks like.
- **Hostile input.** Aliases are shared, never copied, and every node reached through an alias
  (or a merge key `<<`) counts against `Limits.max_alias_nodes`, so a billion-laughs file is
  refused in milliseconds. Nesting depth and the length of numbers are bounded too.
- **Positions and duplicates.** Every value keeps where it came from; a key given twice is a
  finding (PyYAML silently keeps the last one).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)

from pledge.manifest.findings import Finding, Location

Path = tuple[str | int, ...]

MiB = 1024 * 1024
REFUSED = "file-refused"
"""The rule of findings for files over a limit: `pledge check` exits 2, nothing is used."""


@dataclass(frozen=True)
class Limits:
    """What the loader refuses to read, whichever command reads it (check, serve, worker)."""

    max_bytes: int = 64 * MiB
    """Largest manifest or dataset file, in bytes (`PLEDGE_MANIFEST_MAX_BYTES`)."""
    max_alias_nodes: int = 100_000
    """Nodes reached through aliases and merge keys, counted as if copied, per file."""
    max_depth: int = 100
    """Deepest nesting of mappings and sequences."""
    max_number_length: int = 64
    """Longest number literal, in characters; quote longer ones to have them as text."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Limits:
        """The defaults, with the file size limit from `PLEDGE_MANIFEST_MAX_BYTES` if set."""
        raw = environ.get("PLEDGE_MANIFEST_MAX_BYTES", "").strip()
        if not raw:
            return cls()
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"PLEDGE_MANIFEST_MAX_BYTES must be a positive integer, not {raw!r}")
        return cls(max_bytes=int(raw))


@dataclass
class SourceMap:
    """Where each node of one file is: `values[path]` and, for mapping entries, `keys[path]`."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, key: bool = False) -> Location:
        """The location of `path`, or of its nearest ancestor that exists."""
        probe = tuple(path)
        while True:
            table = self.keys if key and probe in self.keys else self.values
            if probe in table:
                line, col = table[probe]
                return Location(self.file, line, col)
            if not probe:
                return Location(self.file, 1, 1)
            probe = probe[:-1]
            key = True


class YamlProblem(Exception):
    """The text is not YAML we accept; carries a finding with the position of the problem."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


# --- YAML 1.2 core schema ---------------------------------------------------------------------

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_TAG = "tag:yaml.org,2002:"
_COLLECTION_TAGS = {None, "!", _TAG + "map", _TAG + "seq"}


class YamlFloat(float):
    """A float that remembers how it was written, so `version: 1.10` read as text is "1.10"."""

    text: str

    def __new__(cls, value: float, text: str) -> YamlFloat:
        number = super().__new__(cls, value)
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text


def _to_int(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _to_float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if text.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return YamlFloat(float(text), text)


def resolve(text: str) -> Any:
    """A plain (unquoted) scalar as YAML 1.2's core schema reads it."""
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        return _to_int(text)
    if _FLOAT.match(text):
        return _to_float(text)
    return text


# --- building data from events ----------------------------------------------------------------

_MISSING: Any = object()
_MERGE = "<<"


class _Frame:
    """A mapping or sequence being built, with its expanded size (for the alias budget)."""

    __slots__ = ("anchor", "key", "key_at", "merges", "path", "size", "value")

    def __init__(self, value: dict[Any, Any] | list[Any], path: Path, anchor: str | None) -> None:
        self.value = value
        self.path = path
        self.anchor = anchor
        self.size = 1
        self.key: Any = _MISSING  # the key waiting for its value, in a mapping
        self.key_at = (0, 0)
        self.merges: list[tuple[Any, tuple[int, int]]] = []


class _Builder:
    def __init__(self, source: SourceMap, limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.findings: list[Finding] = []
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.through_aliases = 0
        self.root: Any = _MISSING
        self.documents = 0

    def fail(self, event: Event, message: str, rule: str = "yaml-syntax") -> NoReturn:
        where = Location(self.source.file, *_at(event))
        raise YamlProblem(Finding(where, "error", rule, message))

    def feed(self, event: Event) -> None:
        if isinstance(event, DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                self.fail(event, "invalid YAML: expected one document, found a second ('---')")
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self._close(self.stack.pop())
        elif isinstance(event, NodeEvent):
            self._node(event)

    def _node(self, event: NodeEvent) -> None:
        parent = self.stack[-1] if self.stack else None
        if isinstance(parent, _Frame) and isinstance(parent.value, dict) and parent.key is _MISSING:
            self._key(parent, event)
            return
        path = self._child_path(parent)
        self.source.values[path] = _at(event)
        if isinstance(event, CollectionStartEvent):
            self._open(event, path)
        elif isinstance(event, AliasEvent):
            self._attach(*self._alias(event))
        else:
            assert isinstance(event, ScalarEvent)
            value = self._scalar(event)
            if event.anchor:
                self.anchors[event.anchor] = (value, 1)
            self._attach(value, 1)

    def _child_path(self, parent: _Frame | None) -> Path:
        if parent is None:
            return ()
        if isinstance(parent.value, list):
            return (*parent.path, len(parent.value))
        return (*parent.path, parent.key)

    def _open(self, event: CollectionStartEvent, path: Path) -> None:
        if len(self.stack) >= self.limits.max_depth:
            self.fail(event, f"nested deeper than {self.limits.max_depth} levels", REFUSED)
        if event.tag not in _COLLECTION_TAGS:
            self.fail(event, f"the tag {event.tag} is not supported")
        value: dict[Any, Any] | list[Any] = {} if isinstance(event, MappingStartEvent) else []
        if event.anchor:
            self.open_anchors.add(event.anchor)
        self.stack.append(_Frame(value, path, event.anchor))

    def _close(self, frame: _Frame) -> None:
        if isinstance(frame.value, dict):
            self._merge(frame)
        if frame.anchor:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = (frame.value, frame.size)
        self._attach(frame.value, frame.size)

    def _alias(self, event: AliasEvent) -> tuple[Any, int]:
        name = event.anchor
        if name in self.open_anchors:
            self.fail(event, f"the alias *{name} refers to a node that contains it")
        if name not in self.anchors:
            self.fail(event, f"invalid YAML: found undefined alias *{name}")
        value, size = self.anchors[name]
        self.through_aliases += size
        if self.through_aliases > self.limits.max_alias_nodes:
            self.fail(
                event,
                f"aliases expand to more than {self.limits.max_alias_nodes:,} nodes "
                "(a file that grows when read is refused)",
                REFUSED,
            )
        return value, size

    def _scalar(self, event: ScalarEvent) -> Any:
        text, tag = event.value, event.tag
        plain = event.implicit[0] and tag in (None, "!")
        if not plain and tag in (None, "!", _TAG + "str"):
            return text
        kind = "plain" if plain else str(tag).removeprefix(_TAG)
        if kind not in ("plain", "int", "float", "bool", "null"):
            self.fail(event, f"the tag {tag} is not supported; quote the value instead")
        if len(text) > self.limits.max_number_length and (_INT.match(text) or _FLOAT.match(text)):
            self.fail(
                event,
                f"a number of {len(text):,} characters (at most {self.limits.max_number_length}); "
                "quote it if it is text",
                REFUSED,
            )
        value = resolve(text)
        if kind != "plain" and not _is_kind(value, kind):
            self.fail(event, f"'{text}' is not a valid !!{kind}")
        return value

    def _key(self, frame: _Frame, event: NodeEvent) -> None:
        where = _at(event)
        key: str
        if isinstance(event, ScalarEvent):
            plain = event.implicit[0] and event.tag in (None, "!")
            if event.anchor:
                self.anchors[event.anchor] = (self._scalar(event), 1)
            key = _Merge(_MERGE) if plain and event.value == _MERGE else event.value
        elif isinstance(event, AliasEvent):
            value, _ = self._alias(event)
            if isinstance(value, dict | list):
                self.fail(event, "a mapping key must be a single value, not a collection")
            key = value if isinstance(value, str) else _key_text_of(value)
        else:
            self.fail(event, "a mapping key must be a single value, not a collection")
        if not isinstance(key, _Merge) and key in frame.value:
            first = self.source.keys[(*frame.path, key)]
            self.findings.append(
                Finding(
                    Location(self.source.file, *where),
                    "error",
                    "duplicate-key",
                    f"duplicate key '{key}' (first defined at line {first[0]})",
                    "remove one of them; YAML keeps only the last",
                    (*frame.path, key),
                )
            )
            key = _Duplicate(key)
        elif not isinstance(key, _Merge):
            self.source.keys[(*frame.path, key)] = where
        frame.key, frame.key_at = key, where

    def _attach(self, value: Any, size: int) -> None:
        if not self.stack:
            self.root = value
            return
        parent = self.stack[-1]
        parent.size += size
        if isinstance(parent.value, list):
            parent.value.append(value)
            return
        key, parent.key = parent.key, _MISSING
        if isinstance(key, _Merge):
            parent.merges.append((value, parent.key_at))
        elif not isinstance(key, _Duplicate):
            parent.value[key] = value

    def _merge(self, frame: _Frame) -> None:
        """Apply merge keys: the mapping's own keys win, then earlier merged mappings."""
        assert isinstance(frame.value, dict)
        for value, at in frame.merges:
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(s, dict) for s in sources):
                where = Location(self.source.file, *at)
                raise YamlProblem(
                    Finding(
                        where,
                        "error",
                        "yaml-syntax",
                        "a merge key '<<' takes a mapping or a list of mappings",
                    )
                )
            for merged in sources:
                for key, item in merged.items():
                    if key not in frame.value:
                        frame.value[key] = item
                        self.source.keys.setdefault((*frame.path, key), at)


class _Marker(str):
    """A key not stored under its text; equal only to itself, so its paths never collide."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class _Merge(_Marker):
    """A merge key `<<`: its value's entries join the mapping (see `_Builder._merge`)."""

    __slots__ = ()


class _Duplicate(_Marker):
    """A key seen before in the same mapping: its value is read and dropped."""

    __slots__ = ()


def _at(event: Event) -> tuple[int, int]:
    """An event's 1-based (line, column); libyaml marks every event."""
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _key_text_of(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return value is None


def _clamp(text: str, line: int, col: int) -> tuple[int, int]:
    """Keep a parser mark inside the file (at end of input it points one line past it)."""
    lines = text.split("\n")
    if line > len(lines):
        line = len(lines)
        col = len(lines[-1]) + 1
    return line, min(col, len(lines[line - 1]) + 1)


def _events(text: str) -> Iterable[Event]:
    return yaml.parse(text, Loader=yaml.CSafeLoader)


def parse_yaml(
    text: str, file: str, limits: Limits | None = None
) -> tuple[Any, SourceMap, list[Finding]]:
    """Parse `text`; returns the data, its source map and findings such as duplicate keys.

    Raises `YamlProblem` for text that is not YAML or that `limits` refuse.
    """
    source = SourceMap(file)
    builder = _Builder(source, limits or Limits())
    try:
        for event in _events(text):
            builder.feed(event)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _clamp(text, mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlProblem(
            Finding(Location(file, line, col), "error", "yaml-syntax", f"invalid YAML: {problem}")
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(
            Finding(Location(file, 1, 1), "error", "yaml-syntax", f"invalid YAML: {exc}")
        ) from exc
    data = None if builder.root is _MISSING else builder.root
    return data, source, builder.findings
