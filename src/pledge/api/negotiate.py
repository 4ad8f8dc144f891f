"""Choosing the language of a page: `?lang=`, else `Accept-Language` (RFC 9110 §12.5.4).

A notice exists only in the manifest's declared languages; anything else falls back to the
default language, and the answer's `Content-Language` says which one was served.
"""

from __future__ import annotations

from collections.abc import Sequence

_MAX_HEADER = 2000
_MAX_RANGES = 30
_MAX_TAG = 35
#: Tags that mean a declared language under another name (Norwegian "no" is Bokmål in practice).
_ALIASES = {
    "no": "nb",
    "nob": "nb",
    "nld": "nl",
    "deu": "de",
    "ger": "de",
    "fra": "fr",
    "eng": "en",
}


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    """Language ranges with their weights, best first; malformed parts are skipped."""
    if not header:
        return []
    ranges: list[tuple[str, float, int]] = []
    for index, part in enumerate(header[:_MAX_HEADER].split(",")[:_MAX_RANGES]):
        pieces = [p.strip() for p in part.split(";")]
        tag = pieces[0].lower()
        if not tag or len(tag) > _MAX_TAG or not tag.isascii():
            continue
        if not all(c.isalnum() or c in "-*" for c in tag):
            continue
        weight = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = -1.0
        if 0.0 < weight <= 1.0:
            ranges.append((tag, weight, index))
    ranges.sort(key=lambda r: (-r[1], r[2]))
    return [(tag, weight) for tag, weight, _ in ranges]


def _match(tag: str, available: Sequence[str]) -> str | None:
    lowered = {a.lower(): a for a in available}
    if tag in lowered:
        return lowered[tag]
    primary = tag.split("-", 1)[0]
    primary = _ALIASES.get(primary, primary)
    if primary in lowered:
        return lowered[primary]
    for code in available:  # a declared regional tag (pt-BR) for a bare range (pt)
        if code.lower().split("-", 1)[0] == primary:
            return code
    return None


def choose_language(
    available: Sequence[str], requested: str | None, accept_language: str | None
) -> str:
    """The declared language to serve: the asked one, else the best accepted, else the first."""
    if requested:
        found = _match(requested.strip().lower()[:35], available)
        if found is not None:
            return found
        return available[0]
    for tag, _weight in parse_accept_language(accept_language):
        if tag == "*":
            return available[0]
        found = _match(tag, available)
        if found is not None:
            return found
    return available[0]
