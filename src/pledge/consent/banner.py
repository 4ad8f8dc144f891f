"""The banner's configuration, built from the manifest's trackers in the visitor's language.

Everything the banner shows comes from here, so the banner cannot promise something the
manifest does not declare: the categories and their trackers (with the cookie names the
banner clears on withdrawal), whether GPC applies where the visitor is, the Do Not Track
statement from `signals`, and the notice version that makes the banner ask again.
"""

from __future__ import annotations

import gettext
from pathlib import Path
from typing import Any

from pledge.consent import gpc
from pledge.consent.notice import notice_ref, tracker_categories
from pledge.i18n import translations
from pledge.manifest.model import Manifest

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "consent"
CONSENT_COOKIE = "pledge_consent"
DEVICE_COOKIE = "pledge_device"
COOKIE_DAYS = 180

_CATEGORY_TEXT = {
    "strictly_necessary": (
        "Strictly necessary",
        "Needed for the site to work: signing in, security, load balancing and remembering "
        "these choices. They cannot be switched off here.",
    ),
    "functional": (
        "Functional",
        "Remember your language and settings, and run the support chat.",
    ),
    "analytics": (
        "Analytics",
        "Count visits and measure how the site is used, so that we can improve it.",
    ),
    "advertising": (
        "Advertising",
        "Let advertising partners show you ads based on your visits here and elsewhere.",
    ),
    "social": (
        "Social media",
        "Share buttons and embedded posts; the social network sees your visit.",
    ),
}
GPC_HONOURED = (
    "Your browser sent a Global Privacy Control signal. We honoured it: we do not sell or "
    "share your personal information, and advertising and social media trackers stay off."
)
DNT_NO_RESPONSE = (
    "Our websites do not respond to Do Not Track signals, because there is no common "
    "standard for them; we do honour Global Privacy Control."
)
DNT_HONOUR = (
    "We treat a Do Not Track signal like a refusal of analytics, advertising and social "
    "media trackers."
)
INTRO = (
    "We use cookies and similar technologies. Strictly necessary ones keep the site working "
    "and are always on. Others we use only if you allow them. You can change your mind at any "
    "time under Privacy choices."
)


def catalog(lang: str) -> gettext.NullTranslations:
    """The banner's and pages' strings in `lang` (English when there is no catalog)."""
    return translations(lang, LOCALES, DOMAIN)


def config(manifest: Manifest, lang: str, jurisdiction: str) -> dict[str, Any]:
    """The banner configuration (JSON) for a visitor in `lang` under `jurisdiction`."""
    _ = catalog(lang).gettext
    notice_id, version = notice_ref(manifest)
    categories = []
    for category in tracker_categories(manifest):
        name, description = _CATEGORY_TEXT[category]
        trackers = [t for t in manifest.trackers if t.category == category]
        purposes = dict.fromkeys(p for t in trackers for p in t.purposes)
        categories.append(
            {
                "id": category,
                "name": _(name),
                "description": _(description),
                "required": category == "strictly_necessary",
                "cookies": sorted({t.name for t in trackers if t.type == "cookie"}),
                "trackers": [
                    {
                        "name": t.name,
                        "type": t.type,
                        "provider": manifest.text(manifest.recipients[t.recipient].name, lang)
                        if t.recipient in manifest.recipients
                        else manifest.organization.name,
                        "duration": str(t.duration) if t.duration is not None else None,
                        "description": manifest.text(t.description, lang) or None,
                        "opt_out_url": t.opt_out_url,
                    }
                    for t in trackers
                ],
                "purposes": [{"id": p, "name": manifest.purpose_name(p, lang)} for p in purposes],
            }
        )
    dnt = DNT_HONOUR if manifest.signals.do_not_track == "honour" else DNT_NO_RESPONSE
    return {
        "version": version,
        "notice": {"id": notice_id, "version": version, "url": f"/notices/{notice_id}?lang={lang}"},
        "language": lang,
        "jurisdiction": jurisdiction,
        "endpoint": "/v1/consent",
        "cookie": {"name": CONSENT_COOKIE, "days": COOKIE_DAYS},
        "categories": categories,
        "gpc": {
            "applies": gpc.applies(manifest, jurisdiction),
            "categories": sorted(gpc.sharing_categories(manifest)),
            "message": _(GPC_HONOURED),
        },
        "dnt": {"handling": manifest.signals.do_not_track, "statement": _(dnt)},
        "texts": {
            "title": _("Your privacy choices"),
            "intro": _(INTRO),
            "accept_all": _("Accept all"),
            "reject_all": _("Reject all"),
            "customise": _("Customise"),
            "save": _("Save choices"),
            "always_on": _("Always on"),
            "notice": _("Cookie notice"),
            "saved": _("Your choices were saved."),
        },
    }
