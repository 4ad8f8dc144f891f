"""Transports against a real SMTP server (aiosmtpd) and a real outbox folder."""

from __future__ import annotations

import errno
import os
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from smtp_support import REFUSED, SmtpServer, Tls, outbox_files

from pledge.config import Settings
from pledge.errors import ConfigError
from pledge.mail import (
    DeliveryError,
    OrgContact,
    OutboxTransport,
    RejectedError,
    SmtpTransport,
    compose,
    compose_marketing,
    parse_smtp_url,
    transport_for,
)

TO = "ada@example.org"
CODE = {"reference": "R-7", "code": "271828", "valid_minutes": 10, "request_kind": "access"}
SUBJECTS = {
    "en": "Confirm your privacy request R-7",
    "nb": "Bekreft personvernforespørselen din R-7",
    "nl": "Bevestig uw privacyverzoek R-7",
    "de": "Bestätigen Sie Ihre Datenschutzanfrage R-7",
    "fr": "Confirmez votre demande R-7",
}


def body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body((kind,))
    assert part is not None
    content: str = part.get_content()
    return content


# -- SMTP -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", sorted(SUBJECTS))
def test_smtp_delivers_a_localised_message(
    lang: str, smtp_server: SmtpServer, org: OrgContact
) -> None:
    transport = SmtpTransport(parse_smtp_url(smtp_server.url()))
    where = transport.send(compose("verification_code", lang, CODE, TO, org))
    assert where == f"smtp://127.0.0.1:{smtp_server.port}"
    (got,) = smtp_server.inbox.messages
    assert got.mail_from == "privacy@lumen.example"
    assert got.rcpt_tos == [TO]
    msg = got.message
    assert msg["Subject"] == SUBJECTS[lang]
    assert msg["To"] == TO
    assert str(msg["From"]) == '"Lumen Systems, Inc." <privacy@lumen.example>'
    assert msg["Content-Language"] == lang
    assert msg.get_content_type() == "multipart/alternative"
    assert "271828" in body(msg, "plain")
    assert "271828" in body(msg, "html")
    assert "privacy@lumen.example" in body(msg, "plain")


def test_smtp_delivers_marketing_with_one_click_unsubscribe(
    smtp_server: SmtpServer, org: OrgContact
) -> None:
    msg = compose_marketing(
        "de",
        TO,
        org,
        subject="Neues von Lumen",
        paragraphs=["Lumen 5 ist da."],
        unsubscribe_url="https://lumen.example/u/tok?s=abc",
    )
    SmtpTransport(parse_smtp_url(smtp_server.url())).send(msg)
    got = smtp_server.inbox.messages[0].message
    assert got["List-Unsubscribe"] == (
        "<https://lumen.example/u/tok?s=abc>, <mailto:privacy@lumen.example?subject=unsubscribe>"
    )
    assert got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Mit einem Klick abmelden" in body(got, "plain")


def test_smtp_starttls_with_login(starttls_server: SmtpServer, tls: Tls, org: OrgContact) -> None:
    config = parse_smtp_url(starttls_server.url("smtp+starttls", auth=True))
    assert config.password == "s3cret:/@pass"
    SmtpTransport(config, tls_context=tls.client).send(
        compose("verification_code", "nb", CODE, TO, org)
    )
    assert starttls_server.inbox.messages[0].message["Subject"] == SUBJECTS["nb"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtps_with_login(smtps_server: SmtpServer, tls: Tls, org: OrgContact) -> None:
    config = parse_smtp_url(smtps_server.url("smtps", auth=True))
    SmtpTransport(config, tls_context=tls.client).send(
        compose("verification_code", "fr", CODE, TO, org)
    )
    assert smtps_server.inbox.messages[0].message["Subject"] == SUBJECTS["fr"]


def test_starttls_server_refuses_plain_text_and_we_say_retry(
    starttls_server: SmtpServer, org: OrgContact
) -> None:
    transport = SmtpTransport(parse_smtp_url(starttls_server.url("smtp", auth=False)))
    with pytest.raises(DeliveryError, match="stays queued") as caught:
        transport.send(compose("verification_code", "en", CODE, TO, org))
    assert not isinstance(caught.value, RejectedError)
    assert starttls_server.inbox.messages == []


def test_wrong_password_is_retryable_and_names_the_setting(
    starttls_server: SmtpServer, tls: Tls, org: OrgContact
) -> None:
    url = starttls_server.url("smtp+starttls", auth=True).replace("s3cret", "wrong")
    transport = SmtpTransport(parse_smtp_url(url), tls_context=tls.client)
    with pytest.raises(DeliveryError, match="PLEDGE_SMTP_URL") as caught:
        transport.send(compose("verification_code", "en", CODE, TO, org))
    assert not isinstance(caught.value, RejectedError)
    assert "wrong" not in str(caught.value)


def test_untrusted_certificate_is_refused(starttls_server: SmtpServer, org: OrgContact) -> None:
    transport = SmtpTransport(parse_smtp_url(starttls_server.url("smtp+starttls", auth=True)))
    with pytest.raises(DeliveryError, match="TLS failed"):
        transport.send(compose("verification_code", "en", CODE, TO, org))


def test_server_down_is_a_retryable_error_without_personal_data(
    smtp_down: SmtpServer, org: OrgContact
) -> None:
    transport = SmtpTransport(parse_smtp_url(smtp_down.url()))
    with pytest.raises(DeliveryError) as caught:
        transport.send(compose("verification_code", "en", CODE, TO, org))
    message = str(caught.value)
    assert "connection refused" in message and f"127.0.0.1:{smtp_down.port}" in message
    assert TO not in message and "271828" not in message


def test_refused_recipient_is_permanent_and_not_named(
    smtp_server: SmtpServer, org: OrgContact
) -> None:
    transport = SmtpTransport(parse_smtp_url(smtp_server.url()))
    with pytest.raises(RejectedError, match="SMTP 550") as caught:
        transport.send(compose("verification_code", "en", CODE, REFUSED, org))
    assert REFUSED not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example", ("smtp", "mail.example", 25, None, None, 30.0)),
        (
            "smtp+starttls://u%40x:p%2Fw@mail.example",
            ("smtp+starttls", "mail.example", 587, "u@x", "p/w", 30.0),
        ),
        ("smtps://mail.example:2465?timeout=7.5", ("smtps", "mail.example", 2465, None, None, 7.5)),
    ],
)
def test_smtp_urls(url: str, expected: tuple[Any, ...]) -> None:
    c = parse_smtp_url(url)
    assert (c.scheme, c.host, c.port, c.username, c.password, c.timeout) == expected


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://mail.example", "scheme 'http'"),
        ("smtp://", "names no host"),
        ("smtp://mail.example:port", "not a number"),
        ("smtp://mail.example?timeout=soon", "timeout"),
    ],
)
def test_bad_smtp_urls_are_explained(url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_smtp_url(url)


def test_password_never_shows_in_repr() -> None:
    config = parse_smtp_url("smtp://user:hunter2@mail.example")
    assert "hunter2" not in repr(config) and "hunter2" not in config.where


def test_transport_for_settings(tmp_path: Path) -> None:
    outbox = transport_for(Settings(data_dir=tmp_path))
    assert isinstance(outbox, OutboxTransport) and outbox.folder == tmp_path / "outbox"
    smtp = transport_for(Settings(data_dir=tmp_path, smtp_url="smtp://127.0.0.1:2525"))
    assert isinstance(smtp, SmtpTransport) and smtp.config.port == 2525


# -- outbox -----------------------------------------------------------------------------


def test_outbox_writes_a_parseable_private_eml(tmp_path: Path, org: OrgContact) -> None:
    folder = tmp_path / "outbox"
    msg = compose("verification_code", "nl", CODE, TO, org)
    path = Path(OutboxTransport(folder).send(msg))
    assert outbox_files(folder) == [path]
    assert path.stat().st_mode & 0o777 == 0o600
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == SUBJECTS["nl"]
    assert parsed["Message-ID"] == msg["Message-ID"]
    assert "271828" in body(parsed, "plain")
    assert b"\r\n" in path.read_bytes()  # canonical line endings, as on the wire


def test_outbox_file_names_sort_by_time_and_skip_a_message_written_before(
    tmp_path: Path, org: OrgContact
) -> None:
    transport = OutboxTransport(tmp_path / "outbox")
    first = compose(
        "verification_code", "en", CODE, TO, org, message_id="<one.pledge@lumen.example>"
    )
    second = compose(
        "verification_code", "en", CODE, TO, org, message_id="<two.pledge@lumen.example>"
    )
    a = transport.send(first)
    b = transport.send(second)
    assert transport.send(first) == a  # a retry of the same message: no duplicate
    names = [p.name for p in outbox_files(tmp_path / "outbox")]
    assert names == sorted(names) == [Path(a).name, Path(b).name]
    assert Path(a).name.endswith("-one.pledge_lumen.example.eml")


@pytest.mark.parametrize("failing", ["replace", "write"])
def test_full_disk_leaves_no_partial_file_and_raises(
    failing: str, tmp_path: Path, org: OrgContact, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    (folder / "keep.eml").write_bytes(b"an earlier message")

    def full(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if failing == "replace":
        monkeypatch.setattr(os, "replace", full)
    else:
        monkeypatch.setattr("pledge.mail.transport._write_all", full)
    with pytest.raises(DeliveryError, match=r"disk is full.*stays queued"):
        OutboxTransport(folder).send(compose("verification_code", "en", CODE, TO, org))
    monkeypatch.undo()
    assert sorted(p.name for p in folder.iterdir()) == ["keep.eml"]  # no temp file, no .eml
    assert (folder / "keep.eml").read_bytes() == b"an earlier message"


def test_outbox_that_cannot_be_a_folder_is_explained(tmp_path: Path, org: OrgContact) -> None:
    (tmp_path / "outbox").write_text("not a folder")
    with pytest.raises(DeliveryError, match="cannot write to the outbox"):
        OutboxTransport(tmp_path / "outbox").send(compose("verification_code", "en", CODE, TO, org))
