"""What a message says: French and English templates (subject, text, HTML, SMS), the e-mail
written out from them, and the pickup code's QR code.

Each message is one template per language, ``templates/<locale>/<kind>.jinja``, with the blocks
``subject``, ``text``, ``html`` and, for the kinds sent by SMS too, ``sms``. The HTML body is the
whole template rendered with autoescaping (it extends ``_layout.jinja``); the other blocks are
rendered alone, as plain text.
"""

from __future__ import annotations

import base64
import io
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Any
from uuid import uuid4

import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context

from libs.contracts.accounts import Locale
from services.notification.domain import Email, Letter, local_hour, local_moment, local_money

TEMPLATES = Path(__file__).parent / "templates"
QR_CONTENT_ID = "pickup-code"
MESSAGE_ID_DOMAIN = "adopte-mon-commercant"
CRLF = "\r\n"
ENCODED_WORD_BYTES = 45  # base64: 60 characters, 72 with "=?utf-8?b?" and "?="


@pass_context
def _moment(context, value) -> str:
    return local_moment(value, context["locale"])


@pass_context
def _hour(context, value) -> str:
    return local_hour(value, context["locale"])


@pass_context
def _money(context, cents: int) -> str:
    return local_money(cents, context["locale"])


UNKNOWN_SLOT = {"fr": "pendant le créneau choisi", "en": "during the slot you chose"}
UNKNOWN_HUB = {"fr": "au tiers-lieu", "en": "at the tiers-lieu"}


@pass_context
def _slot(context, slot: dict | None) -> str:
    """Like « samedi 28 mars à 17:00 – 19:00 (Dégustation) », or words that do without it."""
    locale = context["locale"]
    if not slot:
        return UNKNOWN_SLOT[locale]
    label = f" ({slot['label']})" if slot["label"] else ""
    return (f"{local_moment(slot['starts_at'], locale)} – {local_hour(slot['ends_at'], locale)}"
            f"{label}")


@pass_context
def _hub(context, hub: dict | None) -> str:
    if not hub:
        return UNKNOWN_HUB[context["locale"]]
    return f"{hub['name']}, {hub['address']} ({hub['town']})"


def _environment(autoescape: bool) -> Environment:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=autoescape,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=False)
    environment.filters.update(moment=_moment, hour=_hour, money=_money, slot=_slot, hub=_hub)
    return environment


class MessageTemplates:
    """Renders a kind of message in a language from what the read models know."""

    def __init__(self) -> None:
        self._text = _environment(autoescape=False)
        self._html = _environment(autoescape=True)

    def letter(self, kind: str, locale: Locale, context: dict[str, Any]) -> Letter:
        context = {**context, "locale": locale}
        plain = self._text.get_template(_name(kind, locale))
        subject = " ".join(_block(plain, "subject", context).split())
        return Letter(subject=subject, text=_block(plain, "text", context).strip() + "\n",
                      html=self._html.get_template(_name(kind, locale)).render(context))

    def sms(self, kind: str, locale: Locale, context: dict[str, Any]) -> str:
        plain = self._text.get_template(_name(kind, locale))
        return " ".join(_block(plain, "sms", {**context, "locale": locale}).split())


def _name(kind: str, locale: Locale) -> str:
    return f"{locale}/{kind}.jinja"


def _block(template: Template, block: str, context: dict[str, Any]) -> str:
    return "".join(template.blocks[block](template.new_context(context)))


def qr_code_png(text: str) -> bytes:
    """The code as a QR code the desk can scan from a phone screen, as a PNG image."""
    image = io.BytesIO()
    segno.make(text, error="m").save(image, kind="png", scale=8, border=4)
    return image.getvalue()


def write_email(letter: Letter, *, sender: str, to: str, name: str, message_id: str,
                qr_code: bytes | None = None) -> Email:
    """The e-mail: text and HTML alternatives, the QR code (if any) inline in the HTML (it is
    referenced as ``cid:pickup-code``). The Message-ID comes from our message's id, so a copy
    sent again after a crash reads as the same message to the receiving side.

    Written out directly rather than through ``email.message``, whose header objects cost
    several times the rest of sending an e-mail to a folder: every part is base64 (any text
    travels that way), every non-ASCII header word an RFC 2047 encoded word."""
    html = _part('text/html; charset="utf-8"', _canonical(letter.html))
    if qr_code is not None:
        html = _multipart("related", [html, _part("image/png", qr_code, [
            f"Content-ID: <{QR_CONTENT_ID}>",
            'Content-Disposition: inline; filename="code-de-retrait.png"'])])
    body = _multipart("alternative", [_part('text/plain; charset="utf-8"',
                                            _canonical(letter.text)), html])
    sender_name, sender_address = parseaddr(sender)
    headers = [f"Subject: {_encoded_words(letter.subject)}",
               f"From: {_address(sender_name, sender_address)}",
               f"To: {_address(name, to)}",
               f"Date: {formatdate(usegmt=True)}",
               f"Message-ID: <{message_id}@{MESSAGE_ID_DOMAIN}>",
               "Auto-Submitted: auto-generated",
               "MIME-Version: 1.0"]
    return Email(message_id=message_id, sender=sender_address, to=to,
                 data=CRLF.join(headers).encode() + CRLF.encode() + body)


def _canonical(text: str) -> bytes:
    """Text as MIME wants it before encoding: CRLF line ends."""
    return text.replace("\r\n", "\n").replace("\n", CRLF).encode()


def _part(content_type: str, data: bytes, headers: list[str] | None = None) -> bytes:
    head = [f"Content-Type: {content_type}", "Content-Transfer-Encoding: base64", *(headers or [])]
    return (CRLF.join(head) + CRLF + CRLF).encode() + base64.encodebytes(data).replace(b"\n", b"\r\n")


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    # "=_" cannot start a line of base64, so the boundary never occurs inside a part.
    boundary = f"=_{uuid4().hex}"
    lines = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"'.encode(), b""]
    for part in parts:
        lines += [f"--{boundary}".encode(), part]
    lines += [f"--{boundary}--".encode(), b""]
    return CRLF.encode().join(lines)


def _address(name: str, address: str) -> str:
    name = " ".join(name.split())  # a line end in a name would end the header
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))
    return f"{_encoded_words(name)} <{address}>"


def _encoded_words(text: str) -> str:
    """Non-ASCII text as RFC 2047 encoded words, each under the 75 characters allowed and on a
    line of its own (the line ends between them are not part of the text)."""
    if text.isascii():
        return text
    chunks, chunk = [], b""
    for character in text:
        data = character.encode()
        if len(chunk) + len(data) > ENCODED_WORD_BYTES:
            chunks.append(chunk)
            chunk = b""
        chunk += data
    chunks.append(chunk)
    return (CRLF + " ").join(f"=?utf-8?b?{base64.b64encode(chunk).decode()}?="
                             for chunk in chunks)
