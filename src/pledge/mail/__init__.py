"""Pledge's mail: localised messages about requests, complaints, notices and marketing.

- `compose`: build a message (text and HTML, localised, with the organisation's contact)
- `send_later`: queue it in the caller's transaction; the `mail.send` job sends it
- `transport`: SMTP from `PLEDGE_SMTP_URL`, else `.eml` files in `<data_dir>/outbox/`

See docs/mail.md for the message kinds and the context each one takes.
"""

from __future__ import annotations

from pledge.mail.compose import (
    OrgContact,
    add_unsubscribe,
    compose,
    compose_marketing,
    stable_message_id,
)
from pledge.mail.errors import DeliveryError, MailError, RejectedError
from pledge.mail.handlers import JOB_KIND, send_later
from pledge.mail.kinds import KINDS, REQUEST_KINDS
from pledge.mail.transport import (
    OutboxTransport,
    SmtpConfig,
    SmtpTransport,
    parse_smtp_url,
    transport_for,
)

__all__ = [
    "JOB_KIND",
    "KINDS",
    "REQUEST_KINDS",
    "DeliveryError",
    "MailError",
    "OrgContact",
    "OutboxTransport",
    "RejectedError",
    "SmtpConfig",
    "SmtpTransport",
    "add_unsubscribe",
    "compose",
    "compose_marketing",
    "parse_smtp_url",
    "send_later",
    "stable_message_id",
    "transport_for",
]
