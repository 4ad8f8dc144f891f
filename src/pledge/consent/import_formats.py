"""Reading consent import files: NDJSON, a JSON array or CSV, record by record as it arrives.

A file is fed in chunks (an upload as it streams, or a file from disk) and comes out as
`RawRow`s, each with its line number and its JSON value or why it could not be read; a file
that cannot be read at all (not JSON, a bad CSV header …) raises `ImportFileError`. What the
rows mean is checked by `pledge.consent.importer`.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pledge.errors import PledgeError

FORMATS = ("ndjson", "json", "csv")
MAX_ROWS = 100_000
MAX_ROW_CHARS = 65_536
CSV_COLUMNS = (
    "subject",
    "identity.kind",
    "identity.value",
    "given_at",
    "notice_version",
    "jurisdiction",
    "language",
    "source",
    "source_id",
)
#: The fields that hold choices: an object in JSON, `categories.<id>` columns in CSV.
CHOICE_GROUPS = ("categories", "purposes")


class ImportFileError(PledgeError):
    """The file cannot be read as a whole (not JSON, a bad CSV header …): nothing imported."""

    status = 422

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"line {line}: {detail}")
        self.line, self.detail = line, detail
        self.errors = [{"line": line, "pointer": "", "detail": detail}]


@dataclass(frozen=True)
class RawRow:
    """A row as the file holds it (a JSON value), or why it could not be read."""

    line: int
    data: Any
    problem: str | None = None


class _Parser(Protocol):
    def feed(self, text: str) -> list[RawRow]: ...

    def close(self) -> list[RawRow]: ...


def format_of(name: str | None) -> str | None:
    """The import format for a media type or file name (None: not one we read)."""
    if not name:
        return None
    low = name.split(";")[0].strip().lower()
    for marks, fmt in (
        (("ndjson", "jsonl", "json-lines", "jsonlines"), "ndjson"),
        (("json",), "json"),
        (("csv",), "csv"),
    ):
        if any(low.endswith(mark) for mark in marks):
            return fmt
    return None


class RowReader:
    """Rows with their line numbers from a file's bytes, fed in chunks of any size.

    JSON files are read record by record whether they hold one array or one object a line
    (the first character tells), so a large file is never held as one document.
    """

    def __init__(self, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown import format {fmt!r}")
        self.format = fmt
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._parser: _Parser | None = _CsvLines() if fmt == "csv" else None
        self._head = ""
        self._lines = 0
        self._count = 0

    def feed(self, chunk: bytes) -> list[RawRow]:
        return self._rows(self._decode(chunk, final=False), final=False)

    def close(self) -> list[RawRow]:
        rows = self._rows(self._decode(b"", final=True), final=True)
        if self._count == 0:
            raise ImportFileError(1, "the file holds no records")
        return rows

    def _decode(self, chunk: bytes, final: bool) -> str:
        try:
            text = self._decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            line = self._lines + chunk[: exc.start].count(b"\n") + 1
            raise ImportFileError(line, "not UTF-8 text") from exc
        self._lines += text.count("\n")
        return text

    def _rows(self, text: str, final: bool) -> list[RawRow]:
        if self._parser is None:
            self._head += text
            if not self._head.strip() and not final:
                return []
            json_array = self._head.lstrip().startswith("[")
            self._parser = _JsonArray() if json_array else _NdjsonLines()
            text, self._head = self._head, ""
        rows = self._parser.feed(text)
        if final:
            rows += self._parser.close()
        self._count += len(rows)
        if self._count > MAX_ROWS:
            raise ImportFileError(rows[-1].line, f"more than {MAX_ROWS} records; split the file")
        return rows


def read_file(path: Path, fmt: str, chunk_size: int = 1 << 16) -> Iterator[RawRow]:
    """The rows of a file as it is read, chunk by chunk."""
    reader = RowReader(fmt)
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_size):
            yield from reader.feed(chunk)
    yield from reader.close()


class _Lines:
    """Cuts text into lines, whatever the chunks; `_line` numbers the last complete one."""

    def __init__(self) -> None:
        self._pending = ""
        self._line = 0

    def feed(self, text: str) -> list[RawRow]:
        *complete, self._pending = (self._pending + text).split("\n")
        if len(self._pending) > MAX_ROW_CHARS:
            raise ImportFileError(self._line + 1, f"a line longer than {MAX_ROW_CHARS} characters")
        return self._take(complete)

    def close(self) -> list[RawRow]:
        last, self._pending = self._pending, ""
        return self._take([last] if last else [])

    def _take(self, lines: list[str]) -> list[RawRow]:
        rows = []
        for text in lines:
            self._line += 1
            row = self._row(text.removesuffix("\r"))
            if row is not None:
                rows.append(row)
        return rows

    def _row(self, text: str) -> RawRow | None:
        raise NotImplementedError


class _NdjsonLines(_Lines):
    """One JSON object a line (NDJSON / JSON Lines); blank lines are skipped."""

    def _row(self, text: str) -> RawRow | None:
        if not text.strip():
            return None
        if len(text) > MAX_ROW_CHARS:
            return RawRow(self._line, None, f"longer than {MAX_ROW_CHARS} characters")
        try:
            return RawRow(self._line, json.loads(text))
        except json.JSONDecodeError as exc:
            return RawRow(self._line, None, f"not JSON ({exc.msg} at column {exc.colno})")
        except RecursionError:
            return RawRow(self._line, None, "not a record (nested too deeply)")


class _CsvLines(_Lines):
    """CSV with a header line (RFC 4180; a quoted field may span lines).

    Columns are the record's fields (`identity.kind`, `identity.value` for an identity) and
    one per choice, `categories.<id>` or `purposes.<id>`, holding true/false (yes/no, 1/0) or
    nothing when that choice was not made.
    """

    def __init__(self) -> None:
        super().__init__()
        self._header: list[str] | None = None
        self._record: list[str] = []
        self._start = 0

    def close(self) -> list[RawRow]:
        rows = super().close()
        if self._record:
            raise ImportFileError(self._start, "a quoted field is never closed")
        return rows

    def _row(self, text: str) -> RawRow | None:
        if not self._record:
            if not text.strip():
                return None
            self._start = self._line
        self._record.append(text)
        joined = "\n".join(self._record)
        if joined.count('"') % 2:  # inside a quoted field: it goes on over the next line
            if len(joined) > MAX_ROW_CHARS:
                raise ImportFileError(self._start, "a quoted field is never closed")
            return None
        self._record = []
        try:
            fields = next(csv.reader([joined], strict=True))
        except csv.Error as exc:
            if self._header is None:
                raise ImportFileError(self._start, f"the header line is not CSV ({exc})") from exc
            return RawRow(self._start, None, f"not CSV ({exc})")
        if self._header is None:
            self._header = _csv_header(fields, self._start)
            return None
        return _csv_row(self._header, fields, self._start)


def _csv_header(fields: list[str], line: int) -> list[str]:
    names = [f.strip() for f in fields]
    for number, name in enumerate(names):
        group, _, key = name.partition(".")
        if name not in CSV_COLUMNS and not (group in CHOICE_GROUPS and key):
            known = ", ".join(CSV_COLUMNS)
            raise ImportFileError(
                line, f"unknown column {name!r}; use {known}, categories.<id> or purposes.<id>"
            )
        if name in names[:number]:
            raise ImportFileError(line, f"column {name!r} appears twice")
    return names


def _csv_row(header: list[str], fields: list[str], line: int) -> RawRow:
    if len(fields) != len(header):
        return RawRow(line, None, f"{len(fields)} fields, but the header names {len(header)}")
    data: dict[str, Any] = {}
    for name, value in zip(header, fields, strict=True):
        group, _, key = name.partition(".")
        if value == "":
            continue
        if group in CHOICE_GROUPS:
            data.setdefault(group, {})[key] = _csv_bool(value)
        elif group == "identity":
            data.setdefault("identity", {})[key] = value
        else:
            data[name] = value
    return RawRow(line, data)


def _csv_bool(value: str) -> bool | str:
    low = value.strip().lower()
    if low in ("true", "yes", "1"):
        return True
    if low in ("false", "no", "0"):
        return False
    return value  # reported by the row check as "true or false"


class _JsonArray:
    """One JSON array of records, read record by record as the text arrives."""

    def __init__(self) -> None:
        self._buf = ""
        self._pos = 0
        self._line = 1
        self._state = "open"  # open → first → (record → after)* → done
        self._decoder = json.JSONDecoder()

    def feed(self, text: str) -> list[RawRow]:
        self._buf += text
        return self._scan(final=False)

    def close(self) -> list[RawRow]:
        rows = self._scan(final=True)
        if self._state != "done":
            raise ImportFileError(self._line, "the array is not closed with ']'")
        return rows

    def _scan(self, final: bool) -> list[RawRow]:
        rows = []
        while self._skip_space():
            char = self._buf[self._pos]
            if self._state in ("open", "after", "done"):
                self._punctuation(char)
                continue
            if char == "]":
                if self._state == "record":
                    raise ImportFileError(self._line, "a ',' before ']' (no record follows it)")
                self._pos, self._state = self._pos + 1, "done"
                continue
            row = self._record(final)
            if row is None:
                break  # the record goes on in the next chunk
            rows.append(row)
            self._state = "after"
        self._buf, self._pos = self._buf[self._pos :], 0
        return rows

    def _punctuation(self, char: str) -> None:
        expected = {"open": "[", "after": ",]", "done": ""}[self._state]
        if char not in expected or not expected:
            problem = {
                "open": "a JSON file holds one array of records ([{…}, {…}]) or one per line",
                "after": "expected ',' or ']' after a record",
                "done": "text after the array's closing ']'",
            }[self._state]
            raise ImportFileError(self._line, problem)
        self._pos += 1
        self._state = {"[": "first", ",": "record", "]": "done"}[char]

    def _record(self, final: bool) -> RawRow | None:
        try:
            value, end = self._decoder.raw_decode(self._buf, self._pos)
        except json.JSONDecodeError as exc:
            if not final and len(self._buf) - self._pos <= MAX_ROW_CHARS:
                return None
            if not self._buf[exc.pos :].strip():
                raise ImportFileError(self._line, "the file ends inside this record") from exc
            line = self._line + self._buf.count("\n", self._pos, exc.pos)
            raise ImportFileError(line, f"not JSON ({exc.msg})") from exc
        except RecursionError as exc:
            raise ImportFileError(self._line, "a record nested too deeply") from exc
        if end == len(self._buf) and not final:
            return None  # a number could go on in the next chunk
        if end - self._pos > MAX_ROW_CHARS:
            raise ImportFileError(self._line, f"a record longer than {MAX_ROW_CHARS} characters")
        row = RawRow(self._line, value)
        self._line += self._buf.count("\n", self._pos, end)
        self._pos = end
        return row

    def _skip_space(self) -> bool:
        """Move past whitespace, counting lines; False at the end of the text so far."""
        buf, pos = self._buf, self._pos
        while pos < len(buf) and buf[pos] in " \t\r\n":
            self._line += buf[pos] == "\n"
            pos += 1
        self._pos = pos
        return pos < len(buf)
