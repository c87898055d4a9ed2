"""What a message says: French and English templates (subject, text, HTML, SMS), the e-mail
built from them, and the pickup code's QR code.

Each message is one template per language, ``templates/<locale>/<kind>.jinja``, with the blocks
``subject``, ``text``, ``html`` and, for the kinds sent by SMS too, ``sms``. The HTML body is the
whole template rendered with autoescaping (it extends ``_layout.jinja``); the other blocks are
rendered alone, as plain text.
"""

from __future__ import annotations

import io
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from pathlib import Path
from typing import Any

import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context

from libs.contracts.accounts import Locale
from services.notification.domain import Letter, local_hour, local_moment, local_money

TEMPLATES = Path(__file__).parent / "templates"
QR_CONTENT_ID = "pickup-code"
# Headers are not folded at 78 columns: Python 3.11 drops the space between two encoded words
# when it folds a non-ASCII subject ("jeudi 3" arrives as "jeudi3"). RFC 5322 allows 998.
WIRE_POLICY = SMTP.clone(max_line_length=998)
MESSAGE_ID_DOMAIN = "adopte-mon-commercant"


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


def email_message(letter: Letter, *, sender: str, to: str, name: str, message_id: str,
                  qr_code: bytes | None = None) -> EmailMessage:
    """The e-mail: text and HTML alternatives, the QR code (if any) inline in the HTML (it is
    referenced as ``cid:pickup-code``). The Message-ID comes from our message's id, so a copy
    sent again after a crash reads as the same message to the receiving side."""
    message = EmailMessage()
    message["Subject"] = letter.subject
    message["From"] = sender
    message["To"] = Address(display_name=name, addr_spec=to) if name else to
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<{message_id}@{MESSAGE_ID_DOMAIN}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(letter.text)
    message.add_alternative(letter.html, subtype="html")
    if qr_code is not None:
        html_part = message.get_payload()[1]
        html_part.add_related(qr_code, maintype="image", subtype="png",
                              cid=f"<{QR_CONTENT_ID}>", filename="code-de-retrait.png",
                              disposition="inline")
    return message


def wire_bytes(message: EmailMessage) -> bytes:
    """The e-mail as it travels (CRLF line ends, headers unfolded)."""
    return message.as_bytes(policy=WIRE_POLICY)
