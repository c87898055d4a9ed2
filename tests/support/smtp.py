"""A real SMTP server for tests (aiosmtpd, on a port of its own, in a thread): what it received,
parsed, and a switch to turn the next deliveries away as a busy server would."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self, subtype: str = "plain") -> str:
        """The text (or HTML) body with its line ends as "\n" and no-break spaces as spaces
        (French puts one inside amounts: "21,90\u00a0€")."""
        content = self.message.get_body(preferencelist=(subtype,)).get_content()
        return content.replace("\r\n", "\n").replace("\u00a0", " ")

    def images(self) -> list[EmailMessage]:
        return [part for part in self.message.walk() if part.get_content_maintype() == "image"]


@dataclass
class MailCatcher:
    """The aiosmtpd handler: keeps every message it accepts; turns away ``refuse_next`` first."""

    received: list[ReceivedMail] = field(default_factory=list)
    refused: int = 0
    refuse_next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                self.refused += 1
                return "451 4.3.0 try again later"
            message = message_from_bytes(envelope.original_content or envelope.content,
                                         policy=policy.default)
            self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                              message))
        return "250 OK"

    def to(self, address: str) -> list[ReceivedMail]:
        with self._lock:
            return [mail for mail in self.received if address in mail.recipients]


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    mails: MailCatcher


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server (no TLS, no authentication) on 127.0.0.1."""
    host, catcher = "127.0.0.1", MailCatcher()
    controller = Controller(catcher, hostname=host, port=_free_port(host))
    controller.start()
    try:
        yield SmtpServer(host, controller.port, catcher)
    finally:
        controller.stop()
