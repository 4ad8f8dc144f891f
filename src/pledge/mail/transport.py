"""Hand a composed message over: to an SMTP server, or into the outbox folder.

`PLEDGE_SMTP_URL` chooses the server:

- `smtp://[user:pass@]host[:25]`: plain SMTP (a relay on the same host or network);
- `smtp+starttls://[user:pass@]host[:587]`: submission, upgraded with STARTTLS (required);
- `smtps://[user:pass@]host[:465]`: TLS from the first byte.

`?timeout=SECONDS` sets the socket timeout (default 30). With no URL, messages are written as
`.eml` files to `<data_dir>/outbox/`, which is what the demo and the tests read.

Every failure raises `DeliveryError` with a message naming the server or folder, never the
recipient, so the job that sends the mail is retried with backoff and its error record holds
no personal data.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from pledge.config import Settings
from pledge.errors import ConfigError
from pledge.mail.errors import DeliveryError, RejectedError

log = logging.getLogger("pledge.mail")

DEFAULT_TIMEOUT = 30.0
OUTBOX = "outbox"
FILE_MODE = 0o600
_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Transport(Protocol):
    """Something that accepts a finished message, or raises `DeliveryError` to be retried."""

    def send(self, message: EmailMessage) -> str:
        """Deliver `message`; return where it went (a server or a file), without recipients."""
        ...


# -- SMTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    """A parsed `PLEDGE_SMTP_URL`. `repr` hides the password."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def __repr__(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"SmtpConfig({self.scheme}://{user}{self.host}:{self.port})"

    @property
    def where(self) -> str:
        """The server as named in messages: scheme, host and port, no credentials."""
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpConfig:
    """Read an SMTP URL; a `ConfigError` says what is wrong without echoing the password."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _PORTS:
        raise ConfigError(
            f"PLEDGE_SMTP_URL has scheme {scheme or '(none)'!r}; use smtp://, "
            "smtp+starttls:// or smtps://, or leave it unset to write mail to the outbox"
        )
    if not parts.hostname:
        raise ConfigError("PLEDGE_SMTP_URL names no host; use e.g. smtp+starttls://mail.example")
    try:
        port = parts.port or _PORTS[scheme]
    except ValueError:
        raise ConfigError("PLEDGE_SMTP_URL has a port that is not a number") from None
    return SmtpConfig(
        scheme=scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=_timeout(parts.query),
    )


def _timeout(query: str) -> float:
    values = parse_qs(query).get("timeout")
    if not values:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(values[-1])
    except ValueError:
        raise ConfigError("PLEDGE_SMTP_URL: ?timeout= must be a number of seconds") from None
    if not 0 < seconds <= 600:
        raise ConfigError("PLEDGE_SMTP_URL: ?timeout= must be between 0 and 600 seconds")
    return seconds


class SmtpTransport:
    """Send through an SMTP server, one connection per message (mail is not a hot path)."""

    def __init__(self, config: SmtpConfig, tls_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.tls_context = tls_context or ssl.create_default_context()

    def send(self, message: EmailMessage) -> str:
        """Deliver to the server; temporary trouble and refusals become `DeliveryError`."""
        try:
            with self._connect() as client:
                self._secure_and_login(client)
                refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _refused(self.config, exc.recipients.values()) from None
        except smtplib.SMTPResponseException as exc:
            raise _response_error(self.config, exc.smtp_code) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"cannot reach the mail server {self.config.where}: {_describe(exc)}; "
                "the message stays queued and is retried"
            ) from None
        if refused:
            raise _refused(self.config, refused.values())
        return self.config.where

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.scheme == "smtps":
            return smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=cfg.timeout, context=self.tls_context
            )
        return smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)

    def _secure_and_login(self, client: smtplib.SMTP) -> None:
        if self.config.scheme == "smtp+starttls":
            client.starttls(context=self.tls_context)  # raises if the server cannot
        if self.config.username:
            client.login(self.config.username, self.config.password or "")


def _refused(config: SmtpConfig, answers: object) -> DeliveryError:
    """A refusal per recipient: only the codes are kept, never the addresses."""
    codes = sorted({code for code, _text in answers})  # type: ignore[attr-defined]
    permanent = all(500 <= code < 600 for code in codes)
    kind = RejectedError if permanent else DeliveryError
    return kind(
        f"the mail server {config.where} refused the recipient "
        f"(SMTP {', '.join(str(c) for c in codes)})"
    )


def _response_error(config: SmtpConfig, code: int) -> DeliveryError:
    """Other refusals are retried: a wrong password or a relay rule is fixed by an operator,
    and the queued mail should still go out when it is."""
    if code in (530, 534, 535, 538):
        return DeliveryError(
            f"the mail server {config.where} refused our login (SMTP {code}); "
            "check the user and password in PLEDGE_SMTP_URL (the message stays queued)"
        )
    return DeliveryError(
        f"the mail server {config.where} did not accept the message (SMTP {code}); "
        "it stays queued and is retried"
    )


def _describe(exc: BaseException) -> str:
    """Why a connection failed, in words that hold no message content."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is it running?)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or 'handshake'})"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"the server does not support what we need ({exc})"  # STARTTLS or AUTH
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


# -- outbox -------------------------------------------------------------------------------


class OutboxTransport:
    """Write each message as an `.eml` file in a folder, atomically.

    The file is written under a temporary name, flushed to disk and then renamed, so a reader
    sees either no file or a complete one; on any error the temporary file is removed and a
    `DeliveryError` raised, so the job retries and nothing half-written is left behind.
    File names sort by time and end with the Message-ID, which also makes a retried job
    that already wrote its file a no-op instead of a duplicate.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> str:
        """Write `message` to the outbox; return the file's path."""
        self._ensure_folder()
        suffix = f"-{_safe_id(message)}.eml"
        existing = self._existing(suffix)
        if existing is not None:
            return str(existing)
        target = self.folder / (_timestamp() + suffix)
        data = message.as_bytes(policy=policy.SMTP)
        self._write_atomically(target, data)
        return str(target)

    def _ensure_folder(self) -> None:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise _outbox_error(self.folder, exc) from None
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise DeliveryError(
                f"the outbox {self.folder} is not writable; fix its permissions or set "
                "PLEDGE_DATA_DIR elsewhere (the message stays queued)"
            )

    def _existing(self, suffix: str) -> Path | None:
        matches = sorted(self.folder.glob(f"*{suffix}"))
        return matches[0] if matches else None

    def _write_atomically(self, target: Path, data: bytes) -> None:
        fd, temp_name = tempfile.mkstemp(prefix=".", suffix=".eml.tmp", dir=self.folder)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), FILE_MODE)
                _write_all(handle, data)
            os.replace(temp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise _outbox_error(self.folder, exc) from None
        _fsync_folder(self.folder)


def _write_all(handle: BinaryIO, data: bytes) -> None:
    """Write and force to disk: a full disk must show up here, not after the rename."""
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())


def _outbox_error(folder: Path, exc: OSError) -> DeliveryError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "it is not writable"
    else:
        why = (exc.strerror or type(exc).__name__).lower()
    return DeliveryError(
        f"cannot write to the outbox {folder}: {why}; nothing was written and the message "
        "stays queued — free space or fix the folder, it is retried automatically"
    )


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; best effort where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def _safe_id(message: EmailMessage) -> str:
    """The Message-ID as a file-name part: `<abc.def@host>` → `abc.def_host`."""
    raw = str(message.get("Message-ID", "")).strip().strip("<>")
    return _UNSAFE.sub("_", raw)[:150] or "no-message-id"


# -- choosing ------------------------------------------------------------------------------


def outbox_folder(settings: Settings) -> Path:
    """Where messages go when no SMTP server is configured."""
    return settings.data_dir / OUTBOX


def transport_for(settings: Settings) -> Transport:
    """SMTP when `PLEDGE_SMTP_URL` is set, else the outbox under the data folder."""
    if settings.smtp_url:
        return SmtpTransport(parse_smtp_url(settings.smtp_url))
    return OutboxTransport(outbox_folder(settings))
