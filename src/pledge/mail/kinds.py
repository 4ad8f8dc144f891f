"""The message kinds Pledge sends and the context each one needs.

A kind is declared once here with its context keys, so a caller that forgets a deadline or
mistypes a key fails in its own transaction, when `send_later` is called, rather than in a
worker minutes later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from pledge.mail.errors import MailError
from pledge.manifest.jurisdictions import REQUEST_KINDS as REQUESTS

#: Request kinds of DESIGN §5 (and the unsubscribe a mail confirms); their labels are
#: translated in `labels.py`.
REQUEST_KINDS = (*REQUESTS, "marketing_unsubscribe")
#: Request states a reminder can name (the open ones the team must act on); see `labels.txt`.
OPEN_REQUEST_STATES = ("verified", "awaiting_approval", "in_progress", "failed")
#: SLA states that get a reminder to the privacy team.
REMINDER_SLAS = ("due_soon", "overdue")


@dataclass(frozen=True)
class MessageKind:
    """One kind of mail: its template name, context keys and whether it is marketing."""

    name: str
    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    marketing: bool = False

    def check(self, context: Mapping[str, Any]) -> None:
        """Reject a context with missing, unknown or malformed keys (names keys, not values)."""
        missing = sorted(k for k in self.required if context.get(k) in (None, "", [], ()))
        if missing:
            raise MailError(f"mail {self.name!r}: context is missing {', '.join(missing)}")
        unknown = sorted(set(context) - self.required - self.optional)
        if unknown:
            raise MailError(
                f"mail {self.name!r}: unknown context keys {', '.join(unknown)}; "
                f"expected {', '.join(sorted(self.required | self.optional))}"
            )
        for key, value in context.items():
            _check_value(self.name, key, value)


def _kind(name: str, required: str, optional: str = "", marketing: bool = False) -> MessageKind:
    return MessageKind(name, frozenset(required.split()), frozenset(optional.split()), marketing)


KINDS: dict[str, MessageKind] = {
    k.name: k
    for k in (
        _kind(
            "request_received",
            "reference request_kind",
            "received deadline status_url verification_pending",
        ),
        _kind("verification_code", "reference code valid_minutes", "request_kind"),
        _kind("request_extended", "reference request_kind deadline reasons", "status_url"),
        _kind(
            "request_completed",
            "reference request_kind",
            "download_url download_expires notes erased kept status_url",
        ),
        _kind(
            "request_denied",
            "reference request_kind reasons",
            "authority_name authority_url",
        ),
        _kind(
            "request_forwarded",
            "reference request_kind system",
            "customer received",
        ),
        _kind(
            "request_referred",
            "reference request_kind",
            "controller controller_email controller_url",
        ),
        _kind(
            "request_reminder",
            "reference request_kind request_state sla deadline",
            "received",
        ),
        _kind("request_failed", "reference request_kind reasons"),
        _kind("request_delayed", "reference request_kind", "deadline status_url"),
        _kind(
            "complaint_received",
            "reference",
            "deadline dispute_name dispute_url authority_name authority_url",
        ),
        _kind(
            "notice_changed",
            "notice_title effective notice_url",
            "changes choices_url",
        ),
        _kind(
            "marketing",
            "subject paragraphs unsubscribe_url",
            "heading cta_url cta_label",
            marketing=True,
        ),
    )
}

_DATE_KEYS = frozenset({"received", "deadline", "download_expires", "effective"})
_LIST_KEYS = frozenset({"reasons", "notes", "erased", "kept", "changes", "paragraphs"})
_CHOICES = {
    "request_kind": REQUEST_KINDS,
    "request_state": OPEN_REQUEST_STATES,
    "sla": REMINDER_SLAS,
}


def get_kind(name: str) -> MessageKind:
    """The declared kind called `name`, or a `MailError` listing the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise MailError(
            f"unknown mail kind {name!r}; known kinds: {', '.join(sorted(KINDS))}"
        ) from None


def _check_value(kind: str, key: str, value: Any) -> None:
    if value is None:
        return
    where = f"mail {kind!r}: context key {key!r}"
    if key.endswith("_url"):
        _check_url(where, value)
    elif key in _DATE_KEYS:
        if not isinstance(value, date):
            raise MailError(f"{where} must be a date or datetime, not {type(value).__name__}")
    elif key in _LIST_KEYS:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise MailError(f"{where} must be a list of strings")
    elif key in _CHOICES:
        if value not in _CHOICES[key]:
            raise MailError(f"{where} must be one of {', '.join(_CHOICES[key])}")
    elif key == "valid_minutes":
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise MailError(f"{where} must be a positive whole number of minutes")
    elif key == "verification_pending":
        if not isinstance(value, bool):
            raise MailError(f"{where} must be true or false")
    elif not isinstance(value, str):
        raise MailError(f"{where} must be text, not {type(value).__name__}")


def _check_url(where: str, value: Any) -> None:
    """Only absolute http(s) links: a `javascript:` or relative link in a mail is a bug."""
    if not isinstance(value, str):
        raise MailError(f"{where} must be a URL string")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MailError(f"{where} must be an absolute http(s) URL")
