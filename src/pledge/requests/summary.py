"""An erasure report in the person's words: what was deleted, what was kept, why, until when.

The report counts rows and names columns, which is right for staff and the audit log and
wrong for a letter. Here the columns become the names of their data categories in the
person's language, systems their names from the manifest, and each thing kept gets its reason
(the retention rule's own words, else the purposes and legal bases that keep it) and its
period, so the mail never shows a column path.
"""

from __future__ import annotations

from dataclasses import dataclass

from pledge.manifest.model import Manifest, covers
from pledge.notices.format import formatter
from pledge.requests.package import LEGAL_BASES
from pledge.requests.readable import category_name, fields_of
from pledge.requests.render import N_, gettext
from pledge.requests.report import CollectionErasure, ErasureReport

_LINE = N_("%(system)s: %(what)s.")
_WHY = N_("Why: %(why)s")
_UNTIL = N_("Until: %(until)s")
_NO_REASON = N_("A legal obligation or a legal hold")
_NO_RULE = N_("As long as the purposes need it")
_AFTER = {
    "collected": N_("%(period)s after we collected it."),
    "account_closed": N_("%(period)s after the account is closed."),
    "last_activity": N_("%(period)s after your last activity."),
    "contract_end": N_("%(period)s after the contract ends."),
    "request_closed": N_("%(period)s after the request is closed."),
}


@dataclass(frozen=True)
class ErasureSummary:
    """Whole sentences for the confirmation mail, one per system."""

    erased: list[str]
    kept: list[str]


def summarise(manifest: Manifest, report: ErasureReport, lang: str) -> ErasureSummary:
    erased: dict[str, dict[str, None]] = {}
    kept: dict[str, dict[str, None]] = {}
    for c in report.collections:
        if c.rows_deleted or c.rows_masked or c.rows_shared or c.rows_kept_referenced:
            erased.setdefault(c.system, {}).update(dict.fromkeys(_erased_categories(manifest, c)))
        if c.kept_fields and c.rows_found:
            kept.setdefault(c.system, {}).update(
                dict.fromkeys(_categories(manifest, c, c.kept_fields))
            )
    return ErasureSummary(
        [_erased_line(manifest, s, list(cats), lang) for s, cats in erased.items() if cats],
        [_kept_line(manifest, s, list(cats), lang) for s, cats in kept.items() if cats],
    )


def _categories(manifest: Manifest, c: CollectionErasure, names: tuple[str, ...]) -> list[str]:
    declared = fields_of(manifest, c.system, f"{c.dataset}.{c.collection}")
    return [
        category
        for name in names
        if name in declared
        for category in declared[name].data_categories or ()
    ]


def _erased_categories(manifest: Manifest, c: CollectionErasure) -> list[str]:
    """Masked fields' categories; for deleted rows every categorised field but those kept."""
    if c.rows_deleted:
        declared = fields_of(manifest, c.system, f"{c.dataset}.{c.collection}")
        names = tuple(n for n in declared if n not in c.kept_fields)
        return _categories(manifest, c, names)
    return _categories(manifest, c, c.fields)


def _names(manifest: Manifest, categories: list[str], lang: str) -> str:
    names = dict.fromkeys(category_name(manifest, k, lang) for k in categories)
    return formatter(lang).join(list(names))


def _erased_line(manifest: Manifest, system: str, categories: list[str], lang: str) -> str:
    return gettext(lang, _LINE) % {
        "system": manifest.text(manifest.systems[system].name, lang),
        "what": _names(manifest, categories, lang),
    }


def _kept_line(manifest: Manifest, system: str, categories: list[str], lang: str) -> str:
    first = _erased_line(manifest, system, categories, lang)
    why = gettext(lang, _WHY) % {"why": _why(manifest, system, categories, lang)}
    until = gettext(lang, _UNTIL) % {"until": _until(manifest, system, lang)}
    return " ".join((first, _sentence(why), _sentence(until)))


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _why(manifest: Manifest, system: str, categories: list[str], lang: str) -> str:
    """The retention rule's reason, else the purposes (with legal bases) that need the data."""
    rule = manifest.retention_for(system)
    if rule is not None and rule.reason is not None:
        return manifest.text(rule.reason, lang)
    found: dict[str, None] = {}
    for collect in manifest.systems[system].collects:
        if not any(covers(k, c) or covers(c, k) for k in collect.categories for c in categories):
            continue
        for key in collect.purposes:
            purpose = manifest.purposes.get(key)
            name = manifest.purpose_name(key, lang)
            if purpose is not None and purpose.legal_basis in LEGAL_BASES:
                name = f"{name} ({gettext(lang, LEGAL_BASES[purpose.legal_basis])})"
            found[name] = None
    if found:
        return formatter(lang).join(list(found))
    return gettext(lang, _NO_REASON)


def _until(manifest: Manifest, system: str, lang: str) -> str:
    rule = manifest.retention_for(system)
    if rule is None:
        return gettext(lang, _NO_RULE)
    period = formatter(lang).duration(rule.keep)
    return gettext(lang, _AFTER[rule.after]) % {"period": period}
