"""The `/.well-known/gpc.json` resource of the Global Privacy Control specification (P-S17).

A site that honours the Sec-GPC signal says so at this well-known address, so browsers and
auditors can check the claim. The claim comes from `signals.global_privacy_control`, the same
setting that makes Pledge treat the signal as an opt-out of sale and sharing, so the resource
cannot claim more than Pledge does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from pledge.manifest.model import Manifest
from pledge.notices.versions import NoticeVersion


def gpc_resource(
    manifest: Manifest, history: Sequence[NoticeVersion] = (), today: date | None = None
) -> dict[str, Any]:
    """`{"gpc": true|false, "lastUpdate": "YYYY-MM-DD"}`; lastUpdate only when a date is known."""
    resource: dict[str, Any] = {"gpc": manifest.signals.global_privacy_control == "honour"}
    updated = last_update(manifest, history, today or date.today())
    if updated is not None:
        resource["lastUpdate"] = updated.isoformat()
    return resource


def last_update(manifest: Manifest, history: Sequence[NoticeVersion], today: date) -> date | None:
    """The effective date of the newest published version already in effect.

    A version announced for a later date does not describe the site yet, so it is skipped.
    Without a published version in effect, the newest effective date of a declared notice
    already in effect.
    """
    published = [v.effective for v in history if v.effective <= today]
    if published:
        return max(published)
    declared = [n.effective for n in manifest.notices.values() if n.effective is not None]
    return max((d for d in declared if d <= today), default=None)


def dumps(resource: dict[str, Any]) -> str:
    return json.dumps(resource, indent=2) + "\n"
