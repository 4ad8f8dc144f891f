"""Connectors: the organisation's stores, as request execution sees them (DESIGN §2).

`open_connectors` opens one connector per manifest connection that a controller system with
datasets uses. Connection types pick a factory from `FACTORIES`; later connectors (files,
HTTP, manual tasks) register theirs with `register`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pledge.connectors.base import (
    ColumnInfo,
    Connector,
    ConnectorConfigError,
    ConnectorError,
    ForeignKey,
    Reader,
    ReadSpec,
    Schema,
    TableInfo,
    TableName,
    Writer,
)
from pledge.manifest.model import Connection, Manifest

Factory = Callable[..., Connector]
FACTORIES: dict[str, Factory] = {}


def register(kind: str, factory: Factory) -> None:
    """Make `factory(key, connection, env, **options)` the connector of connection type `kind`."""
    FACTORIES[kind] = factory


def _sql_factory(
    key: str, connection: Connection, env: Mapping[str, str] | None, **options: Any
) -> Connector:
    from pledge.connectors.sql import SqlConnector

    return SqlConnector.from_connection(key, connection, env, **options)


for _kind in ("postgres", "mysql", "mariadb", "sqlite"):
    register(_kind, _sql_factory)


def needed_connections(manifest: Manifest) -> dict[str, tuple[str | None, ...]]:
    """Connection keys that request execution reads, with the schemas their datasets name."""
    needed: dict[str, dict[str | None, None]] = {}
    for key, system in manifest.systems.items():
        datasets = manifest.datasets_of(key)
        if system.role != "controller" or not datasets or system.connection is None:
            continue
        schemas = needed.setdefault(system.connection, {})
        for dataset in datasets:
            namespace = dataset.fides_meta.namespace if dataset.fides_meta else None
            schema = namespace.get("schema") if namespace else None
            schemas[schema if isinstance(schema, str) else None] = None
    return {key: tuple(schemas) for key, schemas in needed.items()}


def open_connectors(
    manifest: Manifest,
    env: Mapping[str, str] | None = None,
    *,
    only: Iterable[str] | None = None,
    **options: Any,
) -> dict[str, Connector]:
    """One connector per connection that execution needs; errors name connection and variable.

    Every problem is collected first, so one message lists each unset variable at once.
    """
    wanted = set(only) if only is not None else None
    opened: dict[str, Connector] = {}
    problems: list[str] = []
    for key, schemas in needed_connections(manifest).items():
        if wanted is not None and key not in wanted:
            continue
        connection = manifest.connections.get(key)
        if connection is None:
            problems.append(f"connection '{key}' is not defined under `connections`")
            continue
        factory = FACTORIES.get(connection.type)
        if factory is None:
            problems.append(
                f"connection '{key}' is of type {connection.type}, which has no connector yet"
            )
            continue
        try:
            extra = (
                {"schemas": schemas} if connection.type in ("postgres", "mysql", "mariadb") else {}
            )
            opened[key] = factory(key, connection, env, **extra, **options)
        except ConnectorConfigError as exc:
            problems.append(str(exc))
    if problems:
        for connector in opened.values():
            connector.close()
        raise ConnectorConfigError("cannot open the stores:\n  " + "\n  ".join(problems))
    return opened


__all__ = [
    "FACTORIES",
    "ColumnInfo",
    "Connector",
    "ConnectorConfigError",
    "ConnectorError",
    "ForeignKey",
    "ReadSpec",
    "Reader",
    "Schema",
    "TableInfo",
    "TableName",
    "Writer",
    "needed_connections",
    "open_connectors",
    "register",
]
