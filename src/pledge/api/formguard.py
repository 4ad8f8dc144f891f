"""A guard for unauthenticated HTML forms (the privacy centre's): a signed double-submit token.

The page sets a random cookie and puts HMAC(installation key, cookie, time) in the form; a POST
needs both within `FORM_TTL_SECONDS`, and when the browser says where it comes from
(`Sec-Fetch-Site`, `Origin`) it must be this site. The cookie is HttpOnly and SameSite=Lax, so
another site's page can neither read it nor send it along.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response

from pledge.api.state import AppState, state_of

COOKIE = "pledge_form"
#: The pages whose forms the cookie guards.
COOKIE_PATH = "/privacy/requests"
#: How long a form's token is good for: a person may take their time, not a day.
FORM_TTL_SECONDS = 12 * 3600
_COOKIE_SHAPE = re.compile(r"[A-Za-z0-9_-]{32}")


@dataclass(frozen=True)
class Guard:
    """The browser's form cookie (`fresh`: new, so it must be set) and the form's token."""

    cookie: str
    fresh: bool
    token: str


def _now() -> int:
    return int(time.time())


def _token(state: AppState, cookie: str, issued: int) -> str:
    """`<issued, hex>.<HMAC(installation key, issued and cookie)>`."""
    key = state.store.vault.derive_key("privacy-centre/forms")
    digest = hmac.new(key, f"{issued:x}\x00{cookie}".encode(), hashlib.sha256).digest()
    return f"{issued:x}." + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def guard_of(request: Request) -> Guard:
    """The form token for this browser, with a new cookie when it has none."""
    cookie = request.cookies.get(COOKIE, "")
    fresh = not _COOKIE_SHAPE.fullmatch(cookie)
    if fresh:
        cookie = secrets.token_urlsafe(24)
    return Guard(cookie, fresh, _token(state_of(request), cookie, _now()))


def _same_site(request: Request) -> bool:
    """False when the browser says the form was sent from another site.

    `Origin: null` (a page whose referrer policy hides it) says nothing either way; the
    cookie's token still has to match, and the cookie is not sent from other sites (Lax).
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    own = {request.headers.get("host", ""), urlsplit(state_of(request).settings.public_url).netloc}
    return urlsplit(origin).netloc in own - {""}


def form_is_genuine(request: Request, form: dict[str, str]) -> bool:
    """The double-submit check: this site's recent form, with the token of this browser's
    cookie."""
    cookie = request.cookies.get(COOKIE, "")
    if not _COOKIE_SHAPE.fullmatch(cookie) or not _same_site(request):
        return False
    given = form.get("csrf", "")
    stamp, _, _ = given.partition(".")
    try:
        issued = int(stamp, 16)
    except ValueError:
        return False
    if not 0 <= _now() - issued <= FORM_TTL_SECONDS:
        return False
    expected = _token(state_of(request), cookie, issued)
    return hmac.compare_digest(given.encode(), expected.encode())


def with_cookie(request: Request, response: Response, guard: Guard | None) -> Response:
    """Set the form cookie on a page whose form token belongs to a new one."""
    if guard is not None and guard.fresh:
        response.set_cookie(
            COOKIE,
            guard.cookie,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response
