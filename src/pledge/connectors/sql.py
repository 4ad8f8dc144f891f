"""One connector for PostgreSQL, MySQL/MariaDB and SQLite, on SQLAlchemy Core.

SQLAlchemy gives us the URL handling, the connection pool, reflection, identifier quoting and
each dialect's type conversions. The statements themselves are few and fixed in shape
(`SELECT … WHERE col IN (…)`, `DELETE … WHERE key IN (…)`, `UPDATE … SET … WHERE key IN (…)`),
so they are rendered once per table and shape, cached, and run on the pooled DB-API
connection: a request over fifty tables then spends its time in the database, not in
statement compilation. On PostgreSQL a value list is one array parameter (`= ANY(%s)`), so each
statement has one text and the server keeps it prepared; elsewhere IN lists are padded to a
power of two to keep the number of distinct statements small.

Connections run in autocommit for reads (no BEGIN/ROLLBACK round trips); `transaction()` opens
an explicit transaction (`BEGIN IMMEDIATE` on SQLite). Error messages name the connection,
operation and table, with quoted literals removed from the database's message, because
drivers like to echo the offending value ("Duplicate entry 'x@y' …"). URLs never appear.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import types as T
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from pledge.connectors.base import (
    ColumnInfo,
    ColumnKind,
    Connector,
    ConnectorConfigError,
    ConnectorError,
    ForeignKey,
    Key,
    ReadSpec,
    Row,
    Schema,
    TableInfo,
    TableName,
    chunks,
    coerce,
)
from pledge.identities import match_key
from pledge.manifest.model import Connection

SQL_TYPES = ("postgres", "mysql", "mariadb", "sqlite")
_BACKENDS = {
    "postgres": ("postgresql",),
    "mysql": ("mysql", "mariadb"),
    "mariadb": ("mysql", "mariadb"),
    "sqlite": ("sqlite",),
}
_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}
_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|\([^()]*\)=\([^()]*\)")

Processor = Callable[[Any], Any] | None
FoldMode = str
"""How a column is matched regardless of case: "native" (its collation ignores case; rows
are checked again in Python), "ranges" (PostgreSQL, byte-order collation, a plain index:
`lower(col) = ANY(…)` inside index ranges of the case spellings of a prefix) or "lower"."""
_BYTE_ORDER = re.compile(r"^(c|posix|ucs_basic|c\.utf-?8)$", re.IGNORECASE)
_PREFIX_LETTERS = 4
_PREFIX_CHARS = 12


# --- configuration -------------------------------------------------------------------------


def resolve_url(key: str, connection: Connection, env: Mapping[str, str] | None = None) -> URL:
    """The SQLAlchemy URL of a connection, read from the variable its `url_env` names.

    Errors name the connection and the variable, never the URL (it may hold a password).
    """
    env = os.environ if env is None else env
    if connection.type not in SQL_TYPES:
        raise ConnectorConfigError(
            f"connection '{key}' is of type {connection.type}, which the SQL connector does "
            f"not handle (it handles {', '.join(SQL_TYPES)})"
        )
    if not connection.url_env:
        raise ConnectorConfigError(
            f"connection '{key}' names no url_env: add `url_env: SOME_NAME` and set that "
            "environment variable to the database URL"
        )
    raw = env.get(connection.url_env, "").strip()
    if not raw:
        raise ConnectorConfigError(
            f"environment variable {connection.url_env} (connection '{key}') is not set: "
            f"set it to the URL of the {connection.type} database"
        )
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConnectorConfigError(
            f"environment variable {connection.url_env} (connection '{key}') does not hold a "
            "database URL such as postgresql://user@host/db"
        ) from None
    return _with_driver(url, key, connection)


def _with_driver(url: URL, key: str, connection: Connection) -> URL:
    backend = "postgresql" if url.drivername in ("postgres", "postgresql") else None
    backend = backend or url.get_backend_name()
    if backend not in _BACKENDS[connection.type]:
        raise ConnectorConfigError(
            f"environment variable {connection.url_env} (connection '{key}') holds a "
            f"{backend} URL, but the connection is of type {connection.type}"
        )
    if "+" not in url.drivername and backend in _DRIVERS:
        return url.set(drivername=_DRIVERS[backend])
    if url.drivername == "mariadb":
        return url.set(drivername="mysql+pymysql")
    return url


# --- types ---------------------------------------------------------------------------------


def column_kind(sa_type: T.TypeEngine[Any]) -> tuple[ColumnKind, int | None]:
    """The kind and maximum length of a reflected column type."""
    checks: tuple[tuple[type[Any], ColumnKind], ...] = (
        (T.Boolean, "boolean"),
        (T.Enum, "other"),
        (T.Integer, "integer"),
        (T.Float, "float"),
        (T.Numeric, "decimal"),
        (T.DateTime, "datetime"),
        (T.Date, "date"),
        (T.Time, "time"),
        (T.Uuid, "uuid"),
        (T.JSON, "json"),
        (T.String, "string"),
        (T._Binary, "binary"),
    )
    for cls, kind in checks:
        if isinstance(sa_type, cls):
            length = getattr(sa_type, "length", None) if kind == "string" else None
            return kind, length if isinstance(length, int) else None
    return "other", None


def _type_name(sa_type: T.TypeEngine[Any], dialect: sa.Dialect) -> str:
    try:
        return sa_type.compile(dialect=dialect)
    except Exception:  # an exotic reflected type: its class name is good enough for messages
        return type(sa_type).__name__.upper()


# --- the connector ----------------------------------------------------------------------------


class _Table:
    """A reflected table with what statements need: column kinds and type processors."""

    __slots__ = ("binds", "info", "kinds", "results", "sql")

    def __init__(
        self, info: TableInfo, sql: str, types: dict[str, T.TypeEngine[Any]], dialect: Any
    ):
        self.info = info
        self.sql = sql
        self.kinds = {name: col.kind for name, col in info.columns.items()}
        self.binds: dict[str, Processor] = {}
        self.results: dict[str, Processor] = {}
        # The PostgreSQL and MySQL drivers return Python types themselves; SQLite returns
        # text for dates and numbers, which SQLAlchemy's result processors convert.
        convert = dialect.name == "sqlite"
        for name, sa_type in types.items():
            impl = sa_type.dialect_impl(dialect)
            self.binds[name] = _processor(impl.bind_processor, dialect)
            if convert:
                self.results[name] = _processor(impl.result_processor, dialect, None)


class SqlConnector(Connector):
    """PostgreSQL, MySQL/MariaDB or SQLite through SQLAlchemy's pool and reflection."""

    def __init__(
        self,
        key: str,
        url: str | URL,
        *,
        kind: str | None = None,
        schemas: Sequence[str | None] = (None,),
        batch_size: int = 1000,
        pool_size: int = 4,
    ) -> None:
        url = make_url(url)
        self.key = key
        self.kind = kind or url.get_backend_name()
        self.batch_size = batch_size
        self._schemas = tuple(dict.fromkeys(schemas))
        options: dict[str, Any] = {"pool_size": pool_size, "max_overflow": pool_size}
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            options = {}  # one in-memory database per connection: no pool sizes to set
        try:
            self._engine: Engine = sa.create_engine(
                url,
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
                hide_parameters=True,
                **options,
            )
        except (ArgumentError, NoSuchModuleError) as exc:
            raise ConnectorConfigError(
                f"connection '{key}': cannot open a {self.kind} database ({type(exc).__name__})"
            ) from None
        if url.get_backend_name() == "sqlite":
            sa.event.listen(self._engine, "connect", _sqlite_foreign_keys)
            sa.event.listen(self._engine, "connect", _sqlite_lower)
        dialect = self._engine.dialect
        self._dialect = dialect
        self._backend = url.get_backend_name()
        self._pg = self._backend == "postgresql"
        self._mark = "?" if dialect.paramstyle == "qmark" else "%s"
        quote = dialect.identifier_preparer.quote
        # With %s placeholders a literal % in a name must be doubled.
        self._quote = quote if self._mark == "?" else (lambda n: quote(n).replace("%", "%%"))
        self._error: type[Exception] = dialect.loaded_dbapi.Error
        self._begin = "BEGIN IMMEDIATE" if self._backend == "sqlite" else "BEGIN"
        self._lock_sql = "" if self._backend == "sqlite" else " FOR UPDATE"
        self._lock = threading.Lock()
        self._schema: Schema | None = None
        self._tables: dict[TableName, _Table] = {}
        self._sql: dict[tuple[Any, ...], str] = {}
        self._folds: dict[tuple[TableName, str], FoldMode] = {}
        self._lower = "pledge_lower" if self._backend == "sqlite" else "lower"

    @classmethod
    def from_connection(
        cls,
        key: str,
        connection: Connection,
        env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> SqlConnector:
        """The connector for a manifest connection, its URL read from `url_env`."""
        return cls(key, resolve_url(key, connection, env), kind=connection.type, **options)

    # -- reflection ------------------------------------------------------------------------

    def introspect(self) -> Schema:
        if self._schema is None:
            with self._lock:
                if self._schema is None:
                    self._schema = self._reflect()
        return self._schema

    def _reflect(self) -> Schema:
        try:
            with self._engine.connect() as conn:
                inspector = sa.inspect(conn)
                default = inspector.default_schema_name
                for schema in self._schemas:
                    self._reflect_schema(inspector, schema, default)
        except self._error as exc:
            raise ConnectorError(
                f"connection '{self.key}': reflection failed: {self._safe(exc)}"
            ) from None
        except sa.exc.SQLAlchemyError as exc:
            raise ConnectorError(
                f"connection '{self.key}': reflection failed ({type(exc).__name__})"
            ) from None
        return Schema({name: t.info for name, t in self._tables.items()})

    def _reflect_schema(
        self, inspector: sa.Inspector, schema: str | None, default: str | None
    ) -> None:
        def name_of(table: str, in_schema: str | None) -> TableName:
            return TableName(table, None if in_schema in (None, default) else in_schema)

        kw: dict[str, Any] = {"schema": schema}
        columns = inspector.get_multi_columns(**kw)
        pks = inspector.get_multi_pk_constraint(**kw)
        fks = inspector.get_multi_foreign_keys(**kw)
        uniques = inspector.get_multi_unique_constraints(**kw)
        indexes = inspector.get_multi_indexes(**kw)
        for (in_schema, table), cols in columns.items():
            name = name_of(table, in_schema)
            keys = (in_schema, table)
            unique = [tuple(c or "" for c in u["column_names"]) for u in uniques.get(keys, ())]
            unique += [
                tuple(c or "" for c in i["column_names"])
                for i in indexes.get(keys, ())
                if i.get("unique")
            ]
            foreign = tuple(
                ForeignKey(
                    name,
                    tuple(fk["constrained_columns"]),
                    name_of(fk["referred_table"], fk.get("referred_schema") or in_schema),
                    tuple(fk["referred_columns"]),
                )
                for fk in fks.get(keys, ())
                if fk.get("referred_table")
            )
            types = {c["name"]: c["type"] for c in cols}
            info = TableInfo(
                name,
                {c["name"]: self._column(c) for c in cols},
                tuple(pk["constrained_columns"] or ()) if (pk := pks.get(keys)) else (),
                foreign,
                tuple(u for u in dict.fromkeys(unique) if all(u)),
            )
            sql = self._table_sql(name)
            self._tables[name] = _Table(info, sql, types, self._dialect)

    def _column(self, col: Mapping[str, Any]) -> ColumnInfo:
        kind, length = column_kind(col["type"])
        name = _type_name(col["type"], self._dialect)
        return ColumnInfo(col["name"], kind, bool(col.get("nullable", True)), length, name)

    def _table_sql(self, name: TableName) -> str:
        quoted = self._quote(name.name)
        return f"{self._quote(name.schema)}.{quoted}" if name.schema else quoted

    def table(self, name: TableName) -> _Table:
        self.introspect()
        found = self._tables.get(name)
        if found is None:
            raise ConnectorError(f"connection '{self.key}' has no table {name}")
        return found

    # -- connections -----------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[_Session]:
        raw = self._connect()
        try:
            yield _Session(self, raw.cursor())
        finally:
            raw.close()

    @contextmanager
    def transaction(self) -> Iterator[_Session]:
        raw = self._connect()
        cursor = raw.cursor()
        try:
            self._execute(cursor, self._begin, (), "begin a transaction", None)
            try:
                yield _Session(self, cursor)
            except BaseException:
                self._end(raw, cursor, "ROLLBACK")
                raise
            self._execute(cursor, "COMMIT", (), "commit", None)
        finally:
            raw.close()

    def _end(self, raw: Any, cursor: Any, sql: str) -> None:
        try:
            cursor.execute(sql)
        except self._error:
            raw.invalidate()  # the connection is unusable; the pool must not hand it out again

    def _connect(self) -> Any:
        try:
            return self._engine.raw_connection()
        except self._error as exc:
            raise ConnectorError(
                f"connection '{self.key}': cannot connect: {self._safe(exc)}"
            ) from None
        except sa.exc.SQLAlchemyError as exc:
            raise ConnectorError(
                f"connection '{self.key}': cannot connect ({type(exc).__name__})"
            ) from None

    def close(self) -> None:
        self._engine.dispose()

    # -- statements ------------------------------------------------------------------------

    def _execute(
        self, cursor: Any, sql: str, params: Sequence[Any], op: str, table: TableName | None
    ) -> None:
        try:
            cursor.execute(sql, params) if params else cursor.execute(sql)
        except self._error as exc:
            raise self._failure(exc, op, table) from None

    def _execute_many(
        self, cursor: Any, sql: str, params: Sequence[Sequence[Any]], op: str, table: TableName
    ) -> None:
        try:
            cursor.executemany(sql, params)
        except self._error as exc:
            raise self._failure(exc, op, table) from None

    def _failure(self, exc: Exception, op: str, table: TableName | None) -> ConnectorError:
        where = f" on table {table}" if table else ""
        state = getattr(getattr(exc, "diag", None), "sqlstate", None)
        message = f"connection '{self.key}': {op}{where} failed: {self._safe(exc)}"
        return ConnectorError(message, state if isinstance(state, str) else None)

    @staticmethod
    def _safe(exc: Exception) -> str:
        """The database's message without quoted literals (drivers echo values in them)."""
        diag = getattr(exc, "diag", None)
        primary = getattr(diag, "message_primary", None)
        text = primary or (str(exc.args[-1]) if exc.args else type(exc).__name__)
        text = text.splitlines()[0] if text else type(exc).__name__
        return f"{type(exc).__name__}: {_QUOTED.sub('…', text)}"

    def sql(self, key: tuple[Any, ...], build: Callable[[], str]) -> str:
        found = self._sql.get(key)
        if found is None:
            found = self._sql[key] = build()
        return found

    def in_list(self, column: str, n: int) -> str:
        """`column IN (…)` for n values; on PostgreSQL one array parameter."""
        if self._pg:
            return f"{column} = ANY({self._mark})"
        return f"{column} IN ({', '.join([self._mark] * n)})"

    def tuple_in(self, columns: Sequence[str], n: int) -> str:
        if len(columns) == 1:
            return self.in_list(columns[0], n)
        one = "(" + ", ".join([self._mark] * len(columns)) + ")"
        return f"({', '.join(columns)}) IN ({', '.join([one] * n)})"

    def bucket(self, n: int) -> int:
        """IN-list length for n values: a power of two (PostgreSQL: any n, one array)."""
        if self._pg or n <= 1:
            return n
        return min(1 << (n - 1).bit_length(), max(n, self.batch_size))

    def pack(self, values: Sequence[Any], size: int) -> list[Any]:
        """Parameters for an IN list of `size` from `values` (padded with the last value)."""
        if self._pg:
            return [list(values)]
        return [*values, *([values[-1]] * (size - len(values)))]

    def pack_keys(self, keys: Sequence[Key], size: int) -> list[Any]:
        if len(keys[0]) == 1:
            return self.pack([k[0] for k in keys], size)
        padded = [*keys, *([keys[-1]] * (size - len(keys)))]
        return [v for key in padded for v in key]

    def fold_mode(self, cursor: Any, table: _Table, column: str) -> FoldMode:
        """How `column` is matched regardless of case (asked of the database once)."""
        key = (table.info.name, column)
        found = self._folds.get(key)
        if found is None:
            found = self._folds[key] = self._ask_fold_mode(cursor, table, column)
        return found

    def _ask_fold_mode(self, cursor: Any, table: _Table, column: str) -> FoldMode:
        name = table.info.name
        if self._backend == "mysql":
            sql = (
                "SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                "COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND COLUMN_NAME = %s"
            )
            self._execute(cursor, sql, (name.schema, name.name, column), "reflect", name)
            row = cursor.fetchone()
            return "native" if row and str(row[0] or "").endswith("_ci") else "lower"
        if self._pg:
            return self._pg_fold_mode(cursor, table, column)
        return "lower"

    def _pg_fold_mode(self, cursor: Any, table: _Table, column: str) -> FoldMode:
        """ "ranges" when the column has a plain index, no index on lower(column), and a
        byte-order collation (where every case spelling of a prefix is one index range)."""
        name = table.info.name
        sql = (
            "SELECT COALESCE(co.collcollate, d.datcollate), "
            "ARRAY(SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = a.attrelid AND i.indpred IS NULL) "
            "FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation "
            "AND co.collname <> 'default' "
            "JOIN pg_database d ON d.datname = current_database() "
            "WHERE a.attrelid = %s::regclass AND a.attname = %s"
        )
        self._execute(cursor, sql, (table.sql.replace("%%", "%"), column), "reflect", name)
        row = cursor.fetchone()
        if row is None:
            return "lower"
        collate, indexes = row
        quoted = re.escape(self._dialect.identifier_preparer.quote(column))
        on_lower = re.compile(rf"\(lower\(\(?{quoted}\)?(::\w+)?\)\)")
        plain = re.compile(rf"\({quoted}( \w+)?[,)]")
        if any(on_lower.search(d) for d in indexes):
            return "lower"
        if any(plain.search(d) for d in indexes) and _BYTE_ORDER.match(str(collate or "")):
            return "ranges"
        return "lower"

    @property
    def lower(self) -> str:
        """The SQL function lower-casing text like Python (SQLite's own is ASCII-only)."""
        return self._lower

    @property
    def quote(self) -> Callable[[str], str]:
        return self._quote

    @property
    def lock_sql(self) -> str:
        return self._lock_sql

    @property
    def is_postgres(self) -> bool:
        return self._pg


class _Session:
    """Reads and writes on one pooled DB-API connection (autocommit, or inside BEGIN…COMMIT)."""

    __slots__ = ("_c", "_cur")

    def __init__(self, connector: SqlConnector, cursor: Any) -> None:
        self._c = connector
        self._cur = cursor

    # -- reads -----------------------------------------------------------------------------

    def read(
        self,
        spec: ReadSpec,
        match: Mapping[str, Collection[Any]],
        *,
        lock: bool = False,
        fold: Collection[str] = (),
    ) -> list[Row]:
        table = self._c.table(spec.table)
        lists: list[_List] = []
        native: list[_List] = []
        for column, raw in match.items():
            values = self._values(table, column, raw)
            if not values:
                continue
            mode = self._fold_mode(table, column, values) if column in fold else None
            if mode is None:
                lists.append(_List(column, values))
            elif mode == "native":
                native.append(_List(column, values))
            else:
                lowered = list(dict.fromkeys(match_key(v) for v in values))
                ranges = mode == "ranges" and all(_case_prefix(v) for v in lowered)
                lists.append(_List(column, lowered, "ranges" if ranges else "lower"))
        rows = self._read_lists(table, spec, lists, lock) if lists else []
        for one in native:
            rows = _merged(spec, rows, self._read_native(table, spec, one, lock))
        return rows

    def _fold_mode(self, table: _Table, column: str, values: list[Any]) -> FoldMode | None:
        if table.kinds.get(column) != "string" or not all(isinstance(v, str) for v in values):
            return None
        return self._c.fold_mode(self._cur, table, column)

    def _read_lists(
        self, table: _Table, spec: ReadSpec, lists: list[_List], lock: bool
    ) -> list[Row]:
        size = self._c.batch_size
        if sum(len(one.values) for one in lists) <= size:
            return self._select(table, spec, lists, lock)
        rows: dict[Any, Row] = {}
        for one in lists:
            for part in chunks(one.values, size):
                for row in self._select(table, spec, [_List(one.column, part, one.how)], lock):
                    rows.setdefault(_row_key(row, spec.key), row)
        return list(rows.values())

    def _read_native(self, table: _Table, spec: ReadSpec, one: _List, lock: bool) -> list[Row]:
        """A column whose collation ignores case (MySQL `*_ci`): its own index finds every
        spelling; rows it also calls equal (accents, trailing spaces) are dropped here."""
        wanted = {match_key(v) for v in one.values}
        spellings = list(dict.fromkeys([*one.values, *wanted]))
        rows = self._read_lists(table, spec, [_List(one.column, spellings)], lock)
        if one.column not in spec.columns:
            return rows
        p = spec.columns.index(one.column)
        return [r for r in rows if isinstance(r[p], str) and match_key(r[p]) in wanted]

    def fetch(
        self,
        spec: ReadSpec,
        key_columns: tuple[str, ...],
        keys: Collection[Key],
        *,
        lock: bool = False,
    ) -> list[Row]:
        if len(key_columns) == 1:
            return self.read(spec, {key_columns[0]: [k[0] for k in keys]}, lock=lock)
        c = self._c
        t = c.table(spec.table)
        rows: list[Row] = []
        for part in chunks(self._keys(t, key_columns, keys), c.batch_size):
            n = c.bucket(len(part))

            def build(n: int = n) -> str:
                q = c.quote
                cols = ", ".join(q(col) for col in spec.columns)
                where = c.tuple_in([q(col) for col in key_columns], n)
                return f"SELECT {cols} FROM {t.sql} WHERE {where}{c.lock_sql if lock else ''}"

            sql = c.sql(("fetch", spec, key_columns, n, lock), build)
            c._execute(self._cur, sql, c.pack_keys(part, n), "read", spec.table)
            rows.extend(self._processed(t, spec, self._cur.fetchall()))
        return rows

    def _processed(self, table: _Table, spec: ReadSpec, rows: Sequence[Any]) -> list[Row]:
        procs = [table.results.get(col) for col in spec.columns]
        if any(procs):
            return [
                tuple(p(v) if p else v for p, v in zip(procs, row, strict=True)) for row in rows
            ]
        return [tuple(r) for r in rows] if rows and not isinstance(rows[0], tuple) else list(rows)

    def _values(self, table: _Table, column: str, raw: Collection[Any]) -> list[Any]:
        kind = table.kinds.get(column)
        if kind is None:
            raise ConnectorError(
                f"connection '{self._c.key}': table {table.info.name} has no column {column}"
            )
        bind = table.binds.get(column)
        values = [v for v in dict.fromkeys(coerce(kind, x) for x in raw) if v is not None]
        return [bind(v) for v in values] if bind is not None else values

    def _select(
        self, table: _Table, spec: ReadSpec, lists: Sequence[_List], lock: bool
    ) -> list[Row]:
        c = self._c
        ranges = [_ranges(one.values) if one.how == "ranges" else [] for one in lists]
        shape = tuple(
            (one.column, c.bucket(len(one.values)), one.how, c.bucket(len(r)) if r else 0)
            for one, r in zip(lists, ranges, strict=True)
        )
        sql = c.sql(
            ("select", spec, shape, lock), lambda: self._select_sql(table, spec, shape, lock)
        )
        params: list[Any] = []
        for one, r, (_, n, _, m) in zip(lists, ranges, shape, strict=True):
            params += c.pack(one.values, n)
            params += [v for pair in [*r, *([r[-1]] * (m - len(r)))] for v in pair] if m else []
        c._execute(self._cur, sql, params, "read", spec.table)
        return self._processed(table, spec, self._cur.fetchall())

    def _select_sql(
        self,
        table: _Table,
        spec: ReadSpec,
        shape: tuple[tuple[str, int, str, int], ...],
        lock: bool,
    ) -> str:
        where = " OR ".join(self._condition(col, n, how, m) for col, n, how, m in shape)
        cols = ", ".join(self._c.quote(col) for col in spec.columns)
        tail = self._c.lock_sql if lock else ""
        return f"SELECT {cols} FROM {table.sql} WHERE {where}{tail}"

    def _condition(self, column: str, n: int, how: str, m: int) -> str:
        c = self._c
        q = c.quote(column)
        if not how:
            return c.in_list(q, n)
        lowered = c.in_list(f"{c.lower}({q})", n)
        if how == "lower":
            return lowered
        # the index narrows the rows to the case spellings' ranges, lower() then decides
        one = f"({q} >= {c._mark} AND {q} < {c._mark})"
        return f"({lowered} AND ({' OR '.join([one] * m)}))"

    def count(self, table: TableName, column: str, values: Collection[Any]) -> dict[Any, int]:
        t = self._c.table(table)
        found: dict[Any, int] = {}
        proc = t.results.get(column)
        q = self._c.quote(column)
        for part in chunks(self._values(t, column, values), self._c.batch_size):
            n = self._c.bucket(len(part))
            sql = self._c.sql(
                ("count", table, column, n),
                lambda n=n: (
                    f"SELECT {q}, COUNT(*) FROM {t.sql} "  # type: ignore[misc]
                    f"WHERE {self._c.in_list(q, n)} GROUP BY {q}"
                ),
            )
            self._c._execute(self._cur, sql, self._c.pack(part, n), "count", table)
            for value, number in self._cur.fetchall():
                found[proc(value) if proc else value] = int(number)
        return found

    def referenced(
        self,
        table: TableName,
        columns: tuple[str, ...],
        values: Collection[Key],
        exclude: tuple[tuple[str, ...], Collection[Key]] | None = None,
    ) -> set[Key]:
        t = self._c.table(table)
        keys = self._keys(t, columns, values)
        skip = self._keys(t, exclude[0], exclude[1]) if exclude else []
        found: set[Key] = set()
        for part in chunks(keys, self._c.batch_size):
            found.update(self._referenced(t, columns, part, exclude[0] if exclude else (), skip))
        return found

    def _referenced(
        self,
        t: _Table,
        columns: tuple[str, ...],
        part: Sequence[Key],
        skip_columns: tuple[str, ...],
        skip: Sequence[Key],
    ) -> set[Key]:
        c = self._c
        q = c.quote
        n, m = c.bucket(len(part)), c.bucket(len(skip)) if skip else 0

        def build() -> str:
            cols = [q(col) for col in columns]
            sql = f"SELECT DISTINCT {', '.join(cols)} FROM {t.sql} WHERE {c.tuple_in(cols, n)}"
            if m:
                sql += f" AND NOT ({c.tuple_in([q(col) for col in skip_columns], m)})"
            return sql

        sql = c.sql(("referenced", t.info.name, columns, n, skip_columns, m), build)
        params = c.pack_keys(part, n) + (c.pack_keys(skip, m) if m else [])
        c._execute(self._cur, sql, params, "check references", t.info.name)
        procs = [t.results.get(col) for col in columns]
        return {
            tuple(p(v) if p else v for p, v in zip(procs, row, strict=True))
            for row in self._cur.fetchall()
        }

    def _keys(self, t: _Table, columns: Sequence[str], keys: Collection[Key]) -> list[Key]:
        """Keys with each value converted for its column; keys that cannot exist are dropped."""
        prepared = (self._key(t, columns, key) for key in keys)
        return list(dict.fromkeys(k for k in prepared if k is not None))

    @staticmethod
    def _key(t: _Table, columns: Sequence[str], key: Key) -> Key | None:
        out = []
        for column, value in zip(columns, key, strict=True):
            v = coerce(t.kinds[column], value)
            if v is None:
                return None
            bind = t.binds.get(column)
            out.append(bind(v) if bind else v)
        return tuple(out)

    # -- writes ----------------------------------------------------------------------------

    def delete(self, table: TableName, key_columns: tuple[str, ...], keys: Sequence[Key]) -> int:
        t = self._c.table(table)
        c = self._c
        cols = [c.quote(col) for col in key_columns]
        deleted = 0
        for part in chunks(self._keys(t, key_columns, keys), c.batch_size):
            n = c.bucket(len(part))
            sql = c.sql(
                ("delete", table, key_columns, n),
                lambda n=n: f"DELETE FROM {t.sql} WHERE {c.tuple_in(cols, n)}",  # type: ignore[misc]
            )
            c._execute(self._cur, sql, c.pack_keys(part, n), "delete", table)
            deleted += max(self._cur.rowcount, 0)
        return deleted

    def update(
        self,
        table: TableName,
        key_columns: tuple[str, ...],
        changes: Sequence[tuple[Key, Mapping[str, Any]]],
    ) -> int:
        t = self._c.table(table)
        groups: dict[tuple[str, ...], list[tuple[Key, Mapping[str, Any]]]] = {}
        for key, values in changes:
            if values:
                groups.setdefault(tuple(sorted(values)), []).append((key, values))
        return sum(self._update(t, key_columns, cols, rows) for cols, rows in groups.items())

    def _update(
        self,
        t: _Table,
        key_columns: tuple[str, ...],
        columns: tuple[str, ...],
        rows: list[tuple[Key, Mapping[str, Any]]],
    ) -> int:
        c = self._c
        binds = [t.binds.get(col) for col in columns]
        values = [
            tuple(
                b(v[col]) if b and v[col] is not None else v[col]
                for b, col in zip(binds, columns, strict=True)
            )
            for _, v in rows
        ]
        assignments = ", ".join(f"{c.quote(col)} = {c._mark}" for col in columns)
        if len(set(values)) == 1:  # one value for every row: a set-based UPDATE … WHERE key IN
            return self._update_same(t, key_columns, columns, assignments, values[0], rows)
        keyed = [(self._key(t, key_columns, k), v) for (k, _), v in zip(rows, values, strict=True)]
        where = " AND ".join(f"{c.quote(col)} = {c._mark}" for col in key_columns)
        sql = c.sql(
            ("update-each", t.info.name, columns, key_columns),
            lambda: f"UPDATE {t.sql} SET {assignments} WHERE {where}",
        )
        params = [(*v, *k) for k, v in keyed if k is not None]
        if not params:
            return 0
        c._execute_many(self._cur, sql, params, "update", t.info.name)
        return max(int(self._cur.rowcount), 0)

    def _update_same(
        self,
        t: _Table,
        key_columns: tuple[str, ...],
        columns: tuple[str, ...],
        assignments: str,
        value: tuple[Any, ...],
        rows: list[tuple[Key, Mapping[str, Any]]],
    ) -> int:
        c = self._c
        cols = [c.quote(col) for col in key_columns]
        changed = 0
        for part in chunks(self._keys(t, key_columns, [k for k, _ in rows]), c.batch_size):
            n = c.bucket(len(part))
            sql = c.sql(
                ("update-same", t.info.name, columns, key_columns, n),
                lambda n=n: f"UPDATE {t.sql} SET {assignments} WHERE {c.tuple_in(cols, n)}",  # type: ignore[misc]
            )
            c._execute(self._cur, sql, [*value, *c.pack_keys(part, n)], "update", t.info.name)
            changed += max(self._cur.rowcount, 0)
        return changed


class _List:
    """Values one column is read with; `how` says how they are compared ("" = as they are)."""

    __slots__ = ("column", "how", "values")

    def __init__(self, column: str, values: Sequence[Any], how: str = "") -> None:
        self.column = column
        self.values = values
        self.how = how


def _case_prefix(value: str) -> str:
    """The start of a lower-cased value whose case spellings are few: ASCII only, at most
    `_PREFIX_LETTERS` letters and `_PREFIX_CHARS` characters."""
    out: list[str] = []
    letters = 0
    for ch in value[:_PREFIX_CHARS]:
        if not ch.isascii() or ch == "\x7f":
            break
        letters += ch.isalpha()
        if letters > _PREFIX_LETTERS:
            break
        out.append(ch)
    return "".join(out)


def _ranges(values: Sequence[str]) -> list[tuple[str, str]]:
    """[low, high) byte-order ranges holding every case spelling of each value's prefix."""
    found: dict[tuple[str, str], None] = {}
    for value in values:
        prefix = _case_prefix(value)
        spellings = [""]
        for ch in prefix:
            spellings = [s + v for s in spellings for v in dict.fromkeys((ch, ch.upper()))]
        found.update(((s, s[:-1] + chr(ord(s[-1]) + 1)), None) for s in spellings)
    return list(found)


def _merged(spec: ReadSpec, rows: list[Row], more: list[Row]) -> list[Row]:
    out = {_row_key(r, spec.key): r for r in rows}
    for r in more:
        out.setdefault(_row_key(r, spec.key), r)
    return list(out.values())


def _sqlite_lower(dbapi_connection: Any, record: Any) -> None:
    """`pledge_lower(x)`: Python's lower-casing (SQLite's lower() knows ASCII only)."""
    dbapi_connection.create_function(
        "pledge_lower", 1, lambda v: v.lower() if isinstance(v, str) else v, deterministic=True
    )


def _processor(make: Callable[..., Processor], *args: Any) -> Processor:
    try:
        return make(*args)
    except Exception:  # a reflected type without processors for this driver: values pass as is
        return None


def _sqlite_foreign_keys(dbapi_connection: Any, record: Any) -> None:
    """SQLite enforces foreign keys only when asked; erasure must not leave dangling rows."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _row_key(row: Row, positions: tuple[int, ...]) -> Any:
    if positions:
        return tuple(row[i] for i in positions)
    try:
        hash(row)
    except TypeError:
        return repr(row)
    return row
