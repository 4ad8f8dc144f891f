"""When two spellings of an identity are one person: the canonical form of each kind.

One module, imported by the vault (blind index), the request engine and the connectors, so
the index and the matching in the organisation's databases cannot disagree.

- e-mail: trimmed, NFC; the local part lower-cased (`str.lower`, not `casefold`, which would
  turn `ß` into `ss` and merge two mailboxes); the domain through IDNA 2008 with the UTS #46
  mapping (the `idna` package) to its ASCII form (`bücher.example` → `xn--bcher-kva.example`).
  No provider rules: `a.b@x` and `ab@x` stay two people, and so do `a+tag@x` and `a@x`.
- phone: E.164 (`+4722334455`) with the `phonenumbers` package; a number written without a
  country code is read in `region` (the installation's `PLEDGE_PHONE_REGION`, default
  `DEFAULT_REGION`).
- user and customer ids: trimmed and NFC, case kept (ids are the store's own spelling).
"""

from __future__ import annotations

import re
import unicodedata

import idna
import phonenumbers

from pledge.errors import PledgeError

KINDS = ("email", "phone", "user_id", "customer_id")
DEFAULT_REGION = "US"
MAX_CHARS = 320
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()./-]+$")


class InvalidIdentity(PledgeError, ValueError):
    """An identity value cannot be read as its kind; the message says why, never the value."""


def normalise(kind: str, value: str, region: str = DEFAULT_REGION) -> str:
    """The canonical form of an identity: what is indexed, hashed, stored and matched."""
    if kind not in KINDS:
        raise InvalidIdentity(f"unknown identity kind {kind!r}; use one of {', '.join(KINDS)}")
    if not isinstance(value, str):
        raise InvalidIdentity(f"a {kind} must be text")
    text = unicodedata.normalize("NFC", value).strip()
    if not text or len(text) > MAX_CHARS:
        raise InvalidIdentity(f"a {kind} must have 1 to {MAX_CHARS} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text):
        raise InvalidIdentity(f"a {kind} must not contain control or invisible characters")
    if kind == "email":
        return normalise_email(text)
    if kind == "phone":
        return normalise_phone(text, region)
    return text


def normalise_email(text: str) -> str:
    """`Local@Domain` → lower-case NFC local part @ ASCII (A-label) lower-case domain."""
    if not _EMAIL.match(text):
        raise InvalidIdentity("an e-mail address needs one '@' with text on both sides")
    local, domain = text.rsplit("@", 1)
    return f"{local.lower()}@{ascii_domain(domain)}"


def ascii_domain(domain: str) -> str:
    """The domain's ASCII form: IDNA 2008 with UTS #46 mapping; plain ASCII just lower-cased.

    ASCII domains are only lower-cased (not checked against IDNA's rules), so an address a
    store already holds, such as one with `_` in the host, is still found.
    """
    if domain.isascii():
        return domain.lower()
    try:
        return idna.encode(domain, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise InvalidIdentity(
            f"the e-mail domain is not a valid internationalised name: {exc}"
        ) from None


def normalise_phone(text: str, region: str = DEFAULT_REGION) -> str:
    """E.164; a number without `+` or an international prefix is read in `region`."""
    if not _PHONE_CHARS.match(text) or "+" in text[1:]:
        raise InvalidIdentity("a phone number may hold digits, spaces, ()-./ and a leading +")
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity(f"not a phone number ({exc._msg})") from None
    if not phonenumbers.is_possible_number(number):
        where = "" if text.startswith("+") else f" (read in region {region.upper()})"
        raise InvalidIdentity(f"not a possible phone number{where}: check the digits")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_region(region: str) -> str:
    """`region` as phonenumbers knows it (ISO 3166-1 alpha-2, upper case), or a clear error."""
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidIdentity(
            f"phone region {region!r} is not an ISO 3166-1 alpha-2 country code phonenumbers "
            "knows (e.g. US, NO, GB)"
        )
    return code


def match_key(value: str) -> str:
    """How an e-mail held in another store is compared with a person's: lower-cased.

    Nothing else (no trimming, no NFC), so the connectors can ask each database for the very
    same comparison (`lower(col)`) and every backend finds the same rows.
    """
    return value.lower()
