"""Fixtures for the mail tests: the organisation, and real SMTP servers on random ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from smtp_support import (
    Inbox,
    SmtpServer,
    Tls,
    authenticate,
    free_port,
    plain_server,
    self_signed_tls,
)

from pledge.mail import OrgContact


@pytest.fixture
def org() -> OrgContact:
    return OrgContact(
        name="Lumen Systems, Inc.",
        email="privacy@lumen.example",
        postal="1 Example Way\nSpringfield, CA 94000, USA",
        phone="+1 555 0100",
        url="https://lumen.example/privacy",
        dpo_email="dpo@lumen.example",
    )


def _running(server: SmtpServer) -> Iterator[SmtpServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP on 127.0.0.1 at a random free port, running."""
    yield from _running(SmtpServer(free_port(), Inbox(), plain_server))


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """A server on a reserved port that is not started (connections are refused) until
    the test calls `start()`."""
    server = SmtpServer(free_port(), Inbox(), plain_server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return self_signed_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def starttls_server(tls: Tls) -> Iterator[SmtpServer]:
    """Submission with STARTTLS and AUTH both required (like port 587)."""

    def make(inbox: Inbox, port: int) -> Controller:
        return Controller(
            inbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=tls.server,
            require_starttls=True,
            authenticator=authenticate,
            auth_required=True,
        )

    yield from _running(SmtpServer(free_port(), Inbox(), make))


@pytest.fixture
def smtps_server(tls: Tls) -> Iterator[SmtpServer]:
    """TLS from the first byte (like port 465) with AUTH required."""

    def make(inbox: Inbox, port: int) -> Controller:
        return Controller(
            inbox,
            hostname="127.0.0.1",
            port=port,
            ssl_context=tls.server,
            server_hostname="127.0.0.1",
            authenticator=authenticate,
            auth_required=True,
            auth_require_tls=False,  # aiosmtpd counts only STARTTLS; this socket is TLS already
        )

    yield from _running(SmtpServer(free_port(), Inbox(), make))
