"""The access package as a person reads it: secrets left out, fields named, values in words.

The datasets say what each column holds (its data categories) and of which type it is, so the
index can name a column by what it is in the person's language ("Address", "Adresse") instead
of `accounts.users.street`, and write a date, a yes or no or an amount as people of that
language do. `data.json` and the CSVs keep the column names: they are for machines.

Credentials are never handed out, not even to their owner: a password hash or a token in a
file that travels by mail is a risk and tells the person nothing. A field is withheld when a
category of it is a credential (`user.authorization.credentials` and below), and, as a second
line for datasets that forgot to say so, when its name looks like a secret. The package says
which kinds of data were withheld, never their values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal, get_currency_precision

from pledge.manifest.datasets import DatasetField
from pledge.manifest.model import Manifest, covers
from pledge.notices.format import formatter
from pledge.requests.render import N_, gettext
from pledge.requests.report import AccessResult, CollectionData

#: Categories whose values are secrets: never in a package.
CREDENTIALS = "user.authorization.credentials"
#: Values of this category are ISO 3166-1 codes, written out as the country's name.
COUNTRY = "user.contact.address.country"
#: Column names that hold secrets whatever their categories say (`password`, `*_hash`, tokens).
_YES, _NO = N_("Yes"), N_("No")
SECRET_NAME = re.compile(r"passw|passwd|secret|token|(^|_)hash$|_hash_|api_?key", re.IGNORECASE)


@dataclass(frozen=True)
class Withheld:
    """Fields of one collection left out of the package, and the categories they hold."""

    system: str
    node: str
    fields: tuple[str, ...]
    categories: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "collection": self.node,
            "fields": list(self.fields),
            "categories": list(self.categories),
        }


def fields_of(manifest: Manifest, system: str, node: str) -> dict[str, DatasetField]:
    """The declared top-level fields of collection `node` ("dataset.collection") by name."""
    dataset_key, _, name = node.partition(".")
    for dataset in manifest.datasets_of(system):
        if dataset.fides_key != dataset_key:
            continue
        collection = dataset.collection(name)
        if collection is not None:
            return {f.name: f for f in collection.fields}
    return {}


def is_secret(name: str, declared: DatasetField | None) -> bool:
    """Whether a column holds a credential: by its categories, or by a name like a secret's."""
    categories = (declared.data_categories or ()) if declared is not None else ()
    return any(covers(CREDENTIALS, c) for c in categories) or bool(SECRET_NAME.search(name))


def without_secrets(
    manifest: Manifest, result: AccessResult
) -> tuple[AccessResult, tuple[Withheld, ...]]:
    """The result with every secret column removed, and what was removed where."""
    kept: list[CollectionData] = []
    withheld: list[Withheld] = []
    for data in result.collections:
        declared = fields_of(manifest, data.system, data.node)
        secret = [f for f in data.fields if is_secret(f, declared.get(f))]
        if not secret:
            kept.append(data)
            continue
        categories = {c for f in secret if f in declared for c in declared[f].data_categories or ()}
        kinds = tuple(sorted(categories)) or (CREDENTIALS,)
        withheld.append(Withheld(data.system, data.node, tuple(secret), kinds))
        keep = [i for i, f in enumerate(data.fields) if f not in secret]
        kept.append(
            replace(
                data,
                fields=tuple(data.fields[i] for i in keep),
                rows=tuple(tuple(row[i] for i in keep) for row in data.rows),
            )
        )
    return replace(result, collections=tuple(kept)), tuple(withheld)


# --- names --------------------------------------------------------------------------------


def category_name(manifest: Manifest, key: str, lang: str) -> str:
    entry = manifest.category(key)
    return entry.name.text(lang, "en") if entry is not None else key


def _common(keys: Iterable[str]) -> str:
    """The deepest taxonomy key that covers every key (may be "" when they share nothing)."""
    parts = [k.split(".") for k in keys]
    if not parts:
        return ""
    shared: list[str] = []
    for segment in zip(*parts, strict=False):
        if len(set(segment)) != 1:
            break
        shared.append(segment[0])
    return ".".join(shared)


def collection_title(manifest: Manifest, categories: list[str], lang: str) -> str:
    """What a collection holds, in words: its categories' common kind ("Address"), or the
    kinds it mixes ("Contact details, Name and Account data")."""
    common = _common(categories)
    if common.count(".") >= 1:
        return category_name(manifest, common, lang)
    kinds = dict.fromkeys(".".join(c.split(".")[:2]) for c in categories)
    return formatter(lang).join([category_name(manifest, k, lang) for k in kinds])


# --- values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    field: str
    label: str
    declared: DatasetField


@dataclass(frozen=True)
class Table:
    """One collection as the index shows it: a title, labelled columns, readable cells."""

    system: str
    node: str
    title: str
    labels: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def table_of(manifest: Manifest, data: CollectionData, lang: str) -> Table | None:
    """The collection's personal fields, labelled by category; None when it has none.

    Keys and bookkeeping columns (no personal data category) stay in the CSV and
    `data.json`. Columns of the same category share one column, their values side by side,
    so a header never repeats.
    """
    declared = fields_of(manifest, data.system, data.node)
    columns = [
        Column(name, category_name(manifest, personal[0], lang), field)
        for name in data.fields
        if (field := declared.get(name)) is not None
        and (personal := [c for c in field.data_categories or () if manifest.is_personal(c)])
    ]
    if not columns:
        return None
    labels = list(dict.fromkeys(col.label for col in columns))
    categories = [c for col in columns for c in col.declared.data_categories or ()]
    rows = []
    for record in data.records():
        cells: dict[str, list[str]] = {label: [] for label in labels}
        for col in columns:
            value = readable(record.get(col.field), col.declared, record, lang)
            if value:
                cells[col.label].append(value)
        rows.append(tuple(" · ".join(cells[label]) for label in labels))
    title = collection_title(manifest, categories, lang)
    return Table(data.system, data.node, title, tuple(labels), tuple(rows))


def readable(value: Any, declared: DatasetField, record: dict[str, Any], lang: str) -> str:
    """One value as people of `lang` write it: dates, yes or no, amounts, lists."""
    if value is None or value == "":
        return ""
    money = declared.meta.money
    if money is not None:
        return _amount(value, money.currency_of(record), money.minor_units, lang)
    if isinstance(value, bool):
        return gettext(lang, _YES if value else _NO)
    kind = declared.meta.data_type
    if isinstance(value, datetime) or (kind == "datetime" and isinstance(value, str)):
        return _moment(value, lang)
    if isinstance(value, date) or (kind == "date" and isinstance(value, str)):
        return _day(value, lang)
    if kind == "boolean" and value in (0, 1):
        return gettext(lang, _YES if value else _NO)
    if isinstance(value, list | tuple):
        return formatter(lang).join([str(v) for v in value])
    if _is_country(declared) and isinstance(value, str) and len(value) == 2:
        return formatter(lang).country(value.upper())
    return str(value)


def _is_country(declared: DatasetField) -> bool:
    return any(covers(COUNTRY, c) for c in declared.data_categories or ())


def _moment(value: datetime | str, lang: str) -> str:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except ValueError:
        return str(value)
    return format_datetime(moment, format="medium", locale=formatter(lang).locale)


def _day(value: date | str, lang: str) -> str:
    try:
        day = value if isinstance(value, date) else date.fromisoformat(value)
    except ValueError:
        return str(value)
    return formatter(lang).date(day)


def _amount(value: Any, currency: str | None, minor_units: bool, lang: str) -> str:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    locale = formatter(lang).locale
    if minor_units:
        amount = amount.scaleb(-(get_currency_precision(currency) if currency else 2))
    if currency is None:
        return format_decimal(amount, locale=locale)
    return format_currency(amount, currency, locale=locale)
