"""Build a complete, localised e-mail from a message kind, a language and a context.

Every mail carries the organisation's privacy contact (P-S20), a Message-ID and a Date, a
plain-text part and an HTML alternative rendered from the same template, and, for marketing,
the RFC 8058 one-click unsubscribe headers. Nothing here logs a recipient or a context value.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from pledge.mail.errors import MailError
from pledge.mail.i18n import resolve_language
from pledge.mail.kinds import MessageKind, get_kind
from pledge.mail.templating import render, render_block

if TYPE_CHECKING:
    from pledge.manifest.model import Manifest

log = logging.getLogger("pledge.mail")

ONE_CLICK = "List-Unsubscribe=One-Click"
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class OrgContact:
    """The organisation as shown in a mail: who sends it and how to reach its privacy team.

    Already resolved to one language, so a queued mail keeps the contact it was written with.
    """

    name: str
    email: str | None = None
    postal: str | None = None
    phone: str | None = None
    url: str | None = None
    dpo_email: str | None = None

    @classmethod
    def from_manifest(cls, manifest: Manifest, lang: str) -> OrgContact:
        """The manifest's `organization` in `lang` (falling back to its first language)."""
        org = manifest.organization
        default = manifest.languages[0]
        contact = org.contact
        return cls(
            name=org.name,
            email=contact.email,
            postal=contact.postal.text(lang, default) if contact.postal else None,
            phone=contact.phone,
            url=contact.url or org.website,
            dpo_email=org.dpo.email if org.dpo else None,
        )

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-ready form for job payloads."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrgContact:
        """The inverse of `to_dict`; unknown keys from newer versions are ignored."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value else None

        return cls(
            name=str(data["name"]),
            email=text("email"),
            postal=text("postal"),
            phone=text("phone"),
            url=text("url"),
            dpo_email=text("dpo_email"),
        )


def compose(
    kind: str,
    lang: str | None,
    context: Mapping[str, Any],
    to: str,
    organization: OrgContact,
    *,
    sender: str | None = None,
    message_id: str | None = None,
    unsubscribe_mailto: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """The mail of `kind` for `to`, in `lang` (or English when we do not write that language).

    `sender` defaults to the organisation's contact e-mail, which is also where replies go.
    `message_id` lets a retried job send the same Message-ID, so receivers can drop a copy.
    Raises `MailError` for an unknown kind, a bad context or an invalid address.
    """
    spec = get_kind(kind)
    spec.check(context)
    language = resolve_language(lang)
    from_address = _address(sender or organization.email, kind, "sender", organization.name)
    variables = _template_variables(spec, context, organization, language)
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = render_block(f"{kind}.txt", "subject", language, variables)
    msg["From"] = from_address
    msg["To"] = _address(to, kind, "recipient")
    if organization.email and organization.email != from_address.addr_spec:
        msg["Reply-To"] = _address(organization.email, kind, "reply-to", organization.name)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = message_id or make_msgid(domain=from_address.domain)
    if spec.marketing:
        mailto = unsubscribe_mailto or _default_mailto(organization)
        add_unsubscribe(msg, context["unsubscribe_url"], mailto)
    else:
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    msg.set_content(render(f"{kind}.txt", language, "text", variables), charset="utf-8")
    msg.add_alternative(render(f"{kind}.txt", language, "html", variables), subtype="html")
    msg["Content-Language"] = language  # after set_content, which clears Content-* headers
    log.debug("composed mail kind=%s lang=%s message_id=%s", kind, language, msg["Message-ID"])
    return msg


def compose_marketing(
    lang: str | None,
    to: str,
    organization: OrgContact,
    *,
    subject: str,
    paragraphs: list[str],
    unsubscribe_url: str,
    heading: str | None = None,
    cta_url: str | None = None,
    cta_label: str | None = None,
    unsubscribe_mailto: str | None = None,
) -> EmailMessage:
    """A marketing mail with the caller's content (already in `lang`) and one-click unsubscribe.

    `unsubscribe_url` is the signed link from the consent service (P-G7); it is shown in the
    body and announced in `List-Unsubscribe`, and a POST to it must unsubscribe without login.
    """
    context = {
        "subject": subject,
        "paragraphs": paragraphs,
        "unsubscribe_url": unsubscribe_url,
        "heading": heading,
        "cta_url": cta_url,
        "cta_label": cta_label,
    }
    return compose(
        "marketing", lang, context, to, organization, unsubscribe_mailto=unsubscribe_mailto
    )


def add_unsubscribe(msg: EmailMessage, url: str, mailto: str | None = None) -> EmailMessage:
    """Announce one-click unsubscribe (RFC 8058) on `msg` and return it.

    RFC 8058 wants an HTTPS link that accepts a POST with `List-Unsubscribe=One-Click`;
    plain http is allowed only on a loopback host, for local demos. The mailto is a fallback
    for clients that do not do one-click.
    """
    parts = urlsplit(url)
    loopback = parts.hostname in _LOOPBACK
    if not (parts.scheme == "https" or (parts.scheme == "http" and loopback)) or not parts.netloc:
        raise MailError("the unsubscribe link must be an absolute https:// URL (RFC 8058)")
    if any(c in url for c in "<>,\r\n "):
        raise MailError("the unsubscribe link must be a URL without spaces, commas or brackets")
    targets = [f"<{url}>"]
    if mailto:
        if not mailto.startswith("mailto:") or any(c in mailto for c in "<>\r\n "):
            raise MailError("the unsubscribe mailto must be a mailto: URL without spaces")
        targets.append(f"<{mailto}>")
    del msg["List-Unsubscribe"], msg["List-Unsubscribe-Post"]
    msg["List-Unsubscribe"] = ", ".join(targets)
    msg["List-Unsubscribe-Post"] = ONE_CLICK
    return msg


def stable_message_id(key: str, domain: str) -> str:
    """A Message-ID derived from an idempotency key: every retry of one mail shares it."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}.pledge@{domain}>"


def _template_variables(
    spec: MessageKind, context: Mapping[str, Any], organization: OrgContact, lang: str
) -> dict[str, Any]:
    variables: dict[str, Any] = dict.fromkeys(spec.optional)
    variables.update(context)
    variables["org"] = organization
    variables["kind"] = spec.name
    variables["lang"] = lang
    return variables


def _address(value: str | None, kind: str, role: str, display_name: str = "") -> Address:
    """A parsed address, or a `MailError` that names the role and never the value."""
    if not value:
        raise MailError(
            f"mail {kind!r}: no {role} address; set organization.contact.email in the manifest"
            if role != "recipient"
            else f"mail {kind!r}: no recipient address"
        )
    try:
        address = Address(display_name=display_name, addr_spec=value.strip())
    except (ValueError, HeaderParseError):
        raise MailError(f"mail {kind!r}: the {role} is not a valid e-mail address") from None
    if not address.username or not address.domain:
        raise MailError(f"mail {kind!r}: the {role} is not a valid e-mail address")
    return address


def _default_mailto(organization: OrgContact) -> str | None:
    if not organization.email:
        return None
    return f"mailto:{organization.email}?subject={quote('unsubscribe')}"
