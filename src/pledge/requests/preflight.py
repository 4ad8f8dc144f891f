"""Preflight (`pledge check --connect`): the datasets compared with the live databases.

Lint checks what the datasets say; only the databases know whether the tables and columns
exist, what types they hold, which foreign keys bind them and which columns refuse NULL. The
preflight opens every connection requests would open (read-only: it only reflects), compares
each collection of the dataset graph with its table, and then binds the very plan an erasure
request binds (`requests.engine.binding.Binder`): every problem that plan reports becomes a
finding at the dataset line it is about. So "check passes, the request cannot be planned"
cannot happen, and a request is never the first to discover an impossible plan.

Nothing here prints a URL or a value: connections are named by key and variable.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from pledge.connectors import open_connectors
from pledge.connectors.base import (
    ColumnInfo,
    Connector,
    ConnectorConfigError,
    ConnectorError,
    Schema,
    TableInfo,
    TableName,
)
from pledge.connectors.sql import resolve_url
from pledge.manifest.findings import Finding, Location
from pledge.manifest.graph import Graph, Node, PlanError, plan_graph
from pledge.manifest.lint import Context
from pledge.manifest.lint.datasets import CollectionSite, FieldSite, build_index
from pledge.manifest.lint.references import suggest
from pledge.manifest.load import LoadResult, check
from pledge.manifest.model import Manifest
from pledge.manifest.preflight_rules import PREFLIGHT_RULES
from pledge.manifest.source import Path
from pledge.requests.engine.binding import Binder

log = logging.getLogger("pledge.preflight")

PLACEHOLDER_KEY = b"pledge-preflight-masking-key-000"
"""Stands in for the masking key when none is given: whether the key is configured is the
server's setting, not the schema's (`pledge serve` passes the real one)."""


RULES = PREFLIGHT_RULES


KINDS: dict[str, frozenset[str]] = {
    "string": frozenset({"string", "uuid"}),
    "integer": frozenset({"integer"}),
    "float": frozenset({"float", "decimal"}),
    "boolean": frozenset({"boolean", "integer"}),  # MariaDB's BOOLEAN is TINYINT(1)
    "date": frozenset({"date"}),
    "datetime": frozenset({"datetime"}),
    "object": frozenset({"json"}),
}
"""Column kinds that hold each dataset `data_type` (others are not compared)."""

_WHERE = re.compile(r"^(?P<where>[^:]+?)(?: \(from [^)]*\))?: ")


@dataclass
class _Run:
    """One preflight: the sites of the datasets, the findings so far, the nodes reported."""

    result: LoadResult
    sites: dict[str, CollectionSite]
    findings: list[Finding]
    done: set[str]
    """Collections already reported as missing or unreachable (the plan says the same)."""

    def at(
        self, rule: str, site: CollectionSite, path: Path, message: str, hint: str | None
    ) -> None:
        location = site.loaded.source.locate(path)
        self.findings.append(Finding(location, RULES[rule][0], rule, message, hint, path))

    def at_manifest(self, rule: str, path: Path, message: str, hint: str | None) -> None:
        source = self.result.source
        location = source.locate(path) if source is not None else Location(self.result.file)
        self.findings.append(Finding(location, RULES[rule][0], rule, message, hint, path))


def preflight(
    result: LoadResult,
    env: Mapping[str, str] | None = None,
    *,
    masking_key: bytes | None = PLACEHOLDER_KEY,
) -> list[Finding]:
    """Findings of comparing a loaded manifest's datasets with its databases (see module doc)."""
    manifest = result.manifest
    if manifest is None:
        return []
    index = build_index(Context(result))
    run = _Run(result, {s.node: s for s in index.sites}, [], set())
    try:
        graph = plan_graph(manifest)
    except PlanError:
        return []  # a cycle: lint reports it at its line, and nothing can be planned
    connectors = _open(run, graph, env)
    try:
        schemas = {key: c.introspect() for key, c in connectors.items()}
        for node in graph.nodes.values():
            schema = schemas.get(node.connection or "")
            site = run.sites.get(node.id)
            if schema is not None and site is not None:
                _compare(run, graph, node, site, schema)
        plan = Binder(manifest, connectors, masking_key, graph).bind()
        for problem in (*plan.access_problems, *plan.erasure_problems):
            _unplanned(run, problem)
    finally:
        for connector in connectors.values():
            connector.close()
    return run.findings


# --- connections ---------------------------------------------------------------------------


def _open(run: _Run, graph: Graph, env: Mapping[str, str] | None) -> dict[str, Connector]:
    """A reflected connector per connection the graph reads; each failure is one finding."""
    manifest = run.result.manifest
    assert manifest is not None
    opened: dict[str, Connector] = {}
    for key in dict.fromkeys(n.connection for n in graph.nodes.values() if n.connection):
        connection = manifest.connections.get(key)
        if connection is None:
            continue  # lint reports the undefined connection
        try:
            connector = open_connectors(manifest, env, only=[key])[key]
        except (ConnectorConfigError, KeyError) as exc:
            _unreachable(run, key, str(exc).removeprefix("cannot open the stores:\n  "))
            continue
        try:
            connector.introspect()
        except ConnectorError as exc:
            connector.close()
            _unreachable(run, key, _scrub(str(exc), run, key, env))
            continue
        opened[key] = connector
    for node in graph.nodes.values():
        if node.connection not in opened:
            run.done.add(node.id)
    return opened


def _unreachable(run: _Run, key: str, why: str) -> None:
    manifest = run.result.manifest
    assert manifest is not None
    variable = manifest.connections[key].url_env
    run.at_manifest(
        "connection-unreachable",
        ("connections", key),
        f"connection '{key}' cannot be reached: {why}",
        f"check that ${variable} holds the database URL and that the database is up"
        if variable
        else "give the connection a url_env",
    )


def _scrub(text: str, run: _Run, key: str, env: Mapping[str, str] | None) -> str:
    """The message without the URL's password, should a driver ever echo it."""
    manifest = run.result.manifest
    assert manifest is not None
    password = resolve_url(key, manifest.connections[key], env).password
    return text.replace(str(password), "***") if password else text


# --- the comparison ------------------------------------------------------------------------


def _compare(run: _Run, graph: Graph, node: Node, site: CollectionSite, schema: Schema) -> None:
    name = TableName(node.name, node.schema)
    info = schema.table(name)
    if info is None:
        tables = [t.name for t in schema.tables if t.schema == node.schema]
        run.done.add(node.id)
        run.at(
            "missing-collection",
            site,
            (*site.path, "name"),
            f"collection '{node.id}': connection '{node.connection}' has no table {name}",
            suggest(node.name, tables) or "create the table, or correct the collection's name",
        )
        return
    fields = {f.name: f for f in site.fields if "." not in f.name}
    for fname, fsite in fields.items():
        column = info.columns.get(fname)
        if column is None:
            run.done.add(node.id)
            run.at(
                "missing-field",
                site,
                (*fsite.path, "name"),
                f"{fsite.label}: table {name} has no column {fname}",
                suggest(fname, list(info.columns)) or "correct the field's name, or remove it",
            )
        else:
            _type(run, site, fsite, column)
    _foreign_keys(run, graph, node, site, info, fields)


def _type(run: _Run, site: CollectionSite, fsite: FieldSite, column: ColumnInfo) -> None:
    declared = fsite.field.meta.data_type
    kinds = KINDS.get(declared or "")
    if kinds is None or column.kind == "other" or column.kind in kinds:
        return
    run.at(
        "type-mismatch",
        site,
        (*fsite.path, "fides_meta", "data_type"),
        f"{fsite.label} is declared {declared} but column {column.name} holds "
        f"{column.type_name or column.kind}",
        "make data_type say what the column holds (masking is checked against it)",
    )


def _foreign_keys(
    run: _Run,
    graph: Graph,
    node: Node,
    site: CollectionSite,
    info: TableInfo,
    fields: Mapping[str, FieldSite],
) -> None:
    """Each reflected foreign key into another collection must be a declared reference."""
    tables = {
        (n.connection, TableName(n.name, n.schema)): n
        for n in graph.nodes.values()
        if n.connection == node.connection
    }
    for fk in info.foreign_keys:
        parent = tables.get((node.connection, fk.target))
        if parent is None:
            continue
        for column, target in zip(fk.columns, fk.target_columns, strict=False):
            if _declared(node, column, parent, target):
                continue
            fsite = fields.get(column)
            path = fsite.path if fsite is not None else site.path
            ref = f"{{dataset: {parent.dataset}, field: {parent.name}.{target}}}"
            run.at(
                "undeclared-foreign-key",
                site,
                path,
                f"column {info.name}.{column} is a foreign key to {fk.target}.{target} "
                f"(collection '{parent.id}') that the dataset does not declare, so requests "
                "would not follow it and erasure could not order or check the two",
                f"add `fides_meta: {{references: [{ref}]}}` to field '{column}'"
                if fsite is not None
                else f"add field '{column}' with `fides_meta: {{references: [{ref}]}}`",
            )


def _declared(child: Node, column: str, parent: Node, target: str) -> bool:
    """Whether either end names the other in its `fides_meta.references`."""
    for one, name, other, other_name in (
        (child, column, parent, target),
        (parent, target, child, column),
    ):
        fld = next((f for f in one.fields if f.name == name), None)
        for ref in fld.meta.references if fld is not None else ():
            if ref.dataset == other.dataset and ref.field == f"{other.name}.{other_name}":
                return True
    return False


# --- what the planner refused --------------------------------------------------------------


def _unplanned(run: _Run, problem: str) -> None:
    """A plan problem at the collection or field it names (`node.field: …` or `node: …`)."""
    match = _WHERE.match(problem)
    where = match.group("where") if match else ""
    node = max(
        (n for n in run.sites if where == n or where.startswith(n + ".")), key=len, default=""
    )
    if not node or node in run.done:
        if not node:
            run.at_manifest("unplannable-collection", (), problem, None)
        return
    site = run.sites[node]
    fname = where[len(node) + 1 :]
    fsite = next((f for f in site.fields if f.name == fname), None)
    path = fsite.path if fsite is not None else site.path
    run.at("unplannable-collection", site, path, problem, _hint(problem))


def _hint(problem: str) -> str | None:
    """The planner's messages carry their fix after a ';'; shown once as the hint."""
    return None if ";" in problem else "see docs/requests.md for how erasure is planned"


# --- the served manifest's preflight ---------------------------------------------------------


class Served(Protocol):
    """What the monitor needs of a manifest holder (`pledge.manifest_holder`)."""

    path: str

    @property
    def manifest(self) -> Manifest: ...


class Monitor:
    """The preflight of the manifest `pledge serve` serves, run in the background.

    It runs once per manifest digest: at start and after each reload (the watch thread sees
    the digest change). A database that is down is a problem on /health and in the log,
    never a reason not to start.
    """

    def __init__(
        self, holder: Served, env: Mapping[str, str] | None = None, interval: float = 2.0
    ) -> None:
        self._holder = holder
        self._env = env
        self._interval = interval
        self._lock = threading.Lock()
        self._digest: str | None = None
        self._problems: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._ran = threading.Event()
        self._watch: threading.Thread | None = None

    def problems(self) -> list[str]:
        """Errors of the latest finished preflight of the served manifest."""
        with self._lock:
            return list(self._problems)

    def wait(self, timeout: float) -> bool:
        """Whether a preflight has finished (within `timeout` seconds)."""
        return self._ran.wait(timeout)

    def start(self) -> None:
        self._watch = threading.Thread(target=self._loop, name="pledge-preflight", daemon=True)
        self._watch.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            digest = self._holder.manifest.digest
            if digest != self._digest:
                self._digest = digest
                self.run(digest)
            self._stop.wait(self._interval)

    def run(self, digest: str) -> None:
        """One preflight of the served manifest file; its errors replace the problems."""
        try:
            findings = preflight(check(self._holder.path), self._env)
            errors = tuple(f"preflight: {f.format()}" for f in findings if f.severity == "error")
        except Exception as exc:  # a preflight bug must not stop the service
            log.error("preflight failed: %s", type(exc).__name__)
            errors = (f"preflight: could not run ({type(exc).__name__})",)
        for problem in errors:
            log.warning("%s", problem)
        if not errors:
            log.info("preflight: the datasets match the databases (%s)", digest[:12])
        with self._lock:
            if self._digest == digest:
                self._problems = errors
        self._ran.set()
