"""Helpers for the mail tests: a real SMTP server (aiosmtpd) and a self-signed certificate.

A module with its own name (not `conftest`), so test modules can import its types directly.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "pledge", "s3cret:/@pass"
REFUSED = "nobody@refused.example"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """aiosmtpd handler keeping what the server accepted, parsed; refuses `REFUSED`."""

    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """A real SMTP server on a fixed port; `start()` again after `stop()` on the same port."""

    port: int
    inbox: Inbox
    make: Callable[[Inbox, int], Controller]
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = self.make(self.inbox, self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def url(self, scheme: str = "smtp", auth: bool = False) -> str:
        secret = PASSWORD.replace(":", "%3A").replace("/", "%2F").replace("@", "%40")
        creds = f"{USER}:{secret}@" if auth else ""
        return f"{scheme}://{creds}127.0.0.1:{self.port}?timeout=5"


def plain_server(inbox: Inbox, port: int) -> Controller:
    return Controller(inbox, hostname="127.0.0.1", port=port)


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    """Accept exactly USER / PASSWORD."""
    expected = (USER.encode(), PASSWORD.encode())
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == expected
    return AuthResult(success=ok, handled=False)


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


def self_signed_tls(folder: Path) -> Tls:
    """A certificate for 127.0.0.1, with a context that serves it and one that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return Tls(server, client)


def outbox_files(folder: Path) -> list[Path]:
    """The finished messages in an outbox (temporary files start with a dot and end .tmp)."""
    return sorted(folder.glob("*.eml")) if folder.exists() else []
