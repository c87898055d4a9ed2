"""The e-mail as written out: read back by Python's own parser, headers and parts are what
was rendered, whatever the language puts in them."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

from services.notification.domain import Letter
from services.notification.messages import write_email

SENDER = "Adopte mon commerçant <ne-pas-repondre@adopte-mon-commercant.fr>"
SUBJECT = ("Commande 3F2A9C01 confirmée : à retirer jeudi 3 décembre à 17:00 – 19:00 "
           "(Dégustation de fromages)")
LETTER = Letter(subject=SUBJECT, text="Bonjour Camille,\n\n21,90\u00a0€ payés.\n",
                html="<p>Bonjour Camille,</p>\n<p>21,90\u00a0€ payés.</p>")


def read(data: bytes):
    return message_from_bytes(data, policy=policy.default)


def test_headers_read_back_as_written_non_ascii_included():
    email = write_email(LETTER, sender=SENDER, to="camille@example.org",
                        name="Camille Le Bihan-Guéguen", message_id="m-1")

    message = read(email.data)
    assert message["Subject"] == SUBJECT  # every space kept, "jeudi 3" included
    assert message["From"].addresses[0].display_name == "Adopte mon commerçant"
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Camille Le Bihan-Guéguen", "camille@example.org")
    assert message["Message-ID"] == "<m-1@adopte-mon-commercant>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert (email.message_id, email.sender, email.to) == (
        "m-1", "ne-pas-repondre@adopte-mon-commercant.fr", "camille@example.org")
    assert not message.defects


def test_it_travels_as_short_crlf_lines():
    data = write_email(LETTER, sender=SENDER, to="camille@example.org", name="Camille",
                       message_id="m-2", qr_code=b"\x89PNG" * 100).data

    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    headers = data.split(b"\r\n\r\n")[0]
    words = re.findall(rb"=\?utf-8\?b\?[^?]*\?=", headers)
    assert len(words) > 2 and max(len(word) for word in words) <= 75  # as RFC 2047 asks


def test_text_html_and_the_inline_image_are_its_parts():
    qr = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    message = read(write_email(LETTER, sender=SENDER, to="camille@example.org", name="",
                               message_id="m-3", qr_code=qr).data)

    assert message.get_content_type() == "multipart/alternative"
    assert message["To"] == "camille@example.org"
    assert message.get_body(preferencelist=("plain",)).get_content() == (
        "Bonjour Camille,\r\n\r\n21,90\u00a0€ payés.\r\n")
    assert "<p>21,90\u00a0€ payés.</p>" in message.get_body(preferencelist=("html",)).get_content()
    [image] = [part for part in message.walk() if part.get_content_maintype() == "image"]
    assert image["Content-ID"] == "<pickup-code>" and image.get_content() == qr
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png"]


def test_a_line_end_in_a_name_cannot_add_a_header():
    message = read(write_email(LETTER, sender=SENDER, to="camille@example.org",
                               name="Camille\r\nBcc: someone@example.org",
                               message_id="m-4").data)

    assert message["Bcc"] is None
    assert message["To"].addresses[0].addr_spec == "camille@example.org"
