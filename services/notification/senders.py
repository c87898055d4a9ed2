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
from pathlib import Path

import aiosmtplib
import httpx

from services.notification.domain import Email, TextMessage

log = logging.getLogger(__name__)


class SmtpEmailSender:
    def __init__(self, *, host: str, port: int, security: str, username: str, password: str,
                 timeout_s: float) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username or None, password or None
        self.timeout_s = timeout_s

    async def send(self, email: Email) -> None:
        await aiosmtplib.send(email.data, sender=email.sender, recipients=[email.to],
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

    async def send(self, email: Email) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{email.message_id}.eml"
        # Written aside then renamed: a reader never sees half a message.
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".part")
        with os.fdopen(handle, "wb") as file:
            file.write(email.data)
        os.replace(temporary, target)
        log.info("e-mail written to a file", extra={"path": str(target), "to": email.to})


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
