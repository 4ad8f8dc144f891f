"""What the banner asks about: the tracker categories and the version of the cookie notice.

The version is a fingerprint of what a visitor agrees to (trackers, their categories,
purposes and recipients), not of the whole manifest: editing a DPO's postal address does not
re-ask every visitor, adding an analytics cookie does (P-G16).
"""

from __future__ import annotations

import hashlib
import json

from pledge.manifest.model import Manifest

#: The banner's order; strictly necessary first and always on.
CATEGORY_ORDER = ("strictly_necessary", "functional", "analytics", "advertising", "social")


def tracker_categories(manifest: Manifest) -> tuple[str, ...]:
    """The categories the manifest's trackers use, in banner order (strictly necessary always)."""
    used = {t.category for t in manifest.trackers} | {"strictly_necessary"}
    return tuple(c for c in CATEGORY_ORDER if c in used)


_REFS: dict[str, tuple[str, str]] = {}


def notice_ref(manifest: Manifest) -> tuple[str, str]:
    """(notice id, version) a choice is made under; cached per manifest digest."""
    found = _REFS.get(manifest.digest) if manifest.digest else None
    if found is not None:
        return found
    notice_id = next((k for k, n in manifest.notices.items() if n.kind == "cookies"), "cookies")
    material = json.dumps(
        [
            [t.name, t.category, t.type, list(t.purposes), t.recipient, t.domain]
            for t in manifest.trackers
        ]
        + [[k, p.legal_basis] for k, p in sorted(manifest.purposes.items())],
        sort_keys=True,
    )
    ref = notice_id, hashlib.sha256(material.encode()).hexdigest()[:16]
    if manifest.digest:
        _REFS[manifest.digest] = ref
    return ref
