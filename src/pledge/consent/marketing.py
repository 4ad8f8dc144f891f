"""Marketing preferences (P-G7): signed links that need no login, and one-click unsubscribe.

A link carries `<payload>.<mac>`: the payload names the vault subject (a random id, never the
e-mail address) and the MAC is HMAC-SHA256 under a key derived with HKDF from the vault's
secret, so only this installation can mint one and a changed byte is refused. Links do not
expire: an unsubscribe link in a two-year-old mail must still work (RFC 8058 §3.1 asks that
it keep working). Unsubscribing is a `withdrawal` record in the consent log for every
marketing purpose, so it is evidence like any other choice, and doing it twice changes
nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import quote

from pledge.consent.receipts import b64url, b64url_decode
from pledge.manifest.model import Manifest
from pledge.store.vault import Vault

TOKEN_LABEL = b"pledge/consent/marketing-link/v1"
_keys: dict[int, tuple[Vault, bytes]] = {}


def _key(vault: Vault) -> bytes:
    found = _keys.get(id(vault))
    if found is not None and found[0] is vault:
        return found[1]
    key = vault.derive_key(TOKEN_LABEL.decode())
    _keys[id(vault)] = (vault, key)
    return key


def make_token(vault: Vault, subject_id: str) -> str:
    """A link token for the preference page and unsubscribe of vault subject `subject_id`."""
    body = b64url(json.dumps({"v": 1, "s": subject_id}, separators=(",", ":")).encode())
    mac = hmac.new(_key(vault), body.encode(), hashlib.sha256).digest()
    return f"{body}.{b64url(mac)}"


def read_token(vault: Vault, token: str) -> str | None:
    """The subject id a token names, or None when it is forged, altered or malformed."""
    try:
        body, mac = token.split(".")
        expected = hmac.new(_key(vault), body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, b64url_decode(mac)):
            return None
        data = json.loads(b64url_decode(body))
    except (ValueError, TypeError):
        return None
    subject = data.get("s") if isinstance(data, dict) and data.get("v") == 1 else None
    return subject if isinstance(subject, str) and 0 < len(subject) <= 64 else None


def unsubscribe_url(public_url: str, token: str) -> str:
    """The link for `List-Unsubscribe` (POST = one-click) and the mail's footer (GET = page)."""
    return f"{public_url.rstrip('/')}/privacy/unsubscribe?token={quote(token)}"


def marketing_purposes(manifest: Manifest) -> tuple[str, ...]:
    """Purposes a person can switch off from a mail: marketing ones, or any withdrawn by
    unsubscribe or in the preference centre."""
    return tuple(
        key
        for key, purpose in manifest.purposes.items()
        if manifest.is_marketing(key)
        or "unsubscribe" in purpose.withdrawal
        or "preference_centre" in purpose.withdrawal
    )
