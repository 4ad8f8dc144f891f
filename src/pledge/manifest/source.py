"""YAML with positions: parse a file into plain data plus the line and column of every node.

PyYAML's C composer gives marks on nodes; we build the data ourselves so duplicate keys are
caught (PyYAML silently keeps the last one) and every value keeps where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pledge.manifest.findings import Finding, Location

Path = tuple[str | int, ...]


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
    """The text is not YAML; carries a finding with the position the parser reported."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


class _Builder:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.findings: list[Finding] = []
        self.constructor = SafeConstructor()

    def build(self, node: Node, path: Path) -> Any:
        self.source.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        self.constructor.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.constructor.construct_object(key_node, deep=True)
            if isinstance(key, bool | int | float) or key is None:
                key = str(key).lower() if isinstance(key, bool) else str(key)
            elif not isinstance(key, str):
                key = str(key)
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in result:
                first = self.source.keys[(*path, key)]
                self.findings.append(
                    Finding(
                        Location(self.source.file, *where),
                        "error",
                        "duplicate-key",
                        f"duplicate key '{key}' (first defined at line {first[0]})",
                        "remove one of them; YAML keeps only the last",
                        (*path, key),
                    )
                )
                continue
            self.source.keys[(*path, key)] = where
            result[key] = self.build(value_node, (*path, key))
        return result


def _clamp(text: str, line: int, col: int) -> tuple[int, int]:
    """Keep a parser mark inside the file (at end of input it points one line past it)."""
    lines = text.split("\n")
    if line > len(lines):
        line = len(lines)
        col = len(lines[-1]) + 1
    return line, min(col, len(lines[line - 1]) + 1)


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[Finding]]:
    """Parse `text`; returns the data, its source map and findings such as duplicate keys."""
    source = SourceMap(file)
    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
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
    if node is None:
        return None, source, []
    builder = _Builder(source)
    try:
        data = builder.build(node, ())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlProblem(
            Finding(Location(file, line, col), "error", "yaml-syntax", f"invalid YAML value: {exc}")
        ) from exc
    except RecursionError as exc:
        raise YamlProblem(
            Finding(Location(file, 1, 1), "error", "yaml-syntax", "YAML nested too deeply")
        ) from exc
    return data, source, builder.findings
