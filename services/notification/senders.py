"""The ways messages leave: e-mail over SMTP or into a folder of .eml files; SMS through an HTTP
gateway or into the log. Each pair implements one port of ``domain`` (EmailSender, SmsSender).

The HTTP gateway's expected shape: ``POST <sms_gateway_url>`` with ``Authorization: Bearer
<sms_gateway_token>`` and the JSON body ``{"to": "+33612345678", "text": "...", "reference":
"<our message id>"}``; any 2xx answer means accepted. The reference is the same on every
attempt at one message, so a gateway that deduplicates on it never sends one twice.
"""

from __future__ import annotations

import logging
import os
import tempfile
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx

from services.notification.domain import TextMessage
from services.notification.messages import wire_bytes

log = logging.getLogger(__name__)


class SmtpEmailSender:
    def __init__(self, *, host: str, port: int, security: str, username: str, password: str,
                 timeout_s: float) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username or None, password or None
        self.timeout_s = timeout_s

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(wire_bytes(message), sender=message["From"].addresses[0].addr_spec,
                              recipients=[a.addr_spec for a in message["To"].addresses],
                              hostname=self.host, port=self.port,
                              username=self.username, password=self.password,
                              use_tls=self.security == "tls",
                              start_tls=self.security == "starttls",
                              timeout=self.timeout_s)


class MailFolder:
    """Writes each e-mail as a .eml file (any mail client opens it): how a hub run with
    ``adopte dev`` and no SMTP server shows what it would have sent."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        message_id = message["Message-ID"].strip("<>").partition("@")[0]
        target = self.folder / f"{message_id}.eml"
        # Written aside then renamed: a reader never sees half a message.
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".part")
        with os.fdopen(handle, "wb") as file:
            file.write(wire_bytes(message))
        os.replace(temporary, target)
        log.info("e-mail written to a file", extra={"path": str(target), "to": message["To"]})


class HttpSmsGateway:
    def __init__(self, url: str, token: str, timeout_s: float = 15.0) -> None:
        self.url, self.token, self.timeout_s = url, token, timeout_s
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.timeout_s)

    async def stop(self) -> None:
        if self._client:
            await self._client.aclose()

    async def send(self, message: TextMessage) -> None:
        if self._client is None:
            raise RuntimeError("the SMS gateway is not started")
        answer = await self._client.post(
            self.url, headers={"Authorization": f"Bearer {self.token}"},
            json={"to": message.to, "text": message.text, "reference": message.reference})
        answer.raise_for_status()


class ConsoleSms:
    """Logs each SMS instead of sending it: the embedded hub's default."""

    async def send(self, message: TextMessage) -> None:
        log.info("SMS (not sent: no gateway configured)",
                 extra={"to": message.to, "text": message.text, "reference": message.reference})
