"""The desk's rules, free of I/O: shelf locations, what a search means, the code's QR image."""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno

from libs.kit.errors import Unprocessable
from libs.kit.i18n import gettext as _
from services.pickup.domain import CODE_ALPHABET, CODE_LENGTH, normalized_code

SHELF_MAX_LENGTH = 40
SEARCH_MIN_LENGTH = 2
SEARCH_MAX_LENGTH = 100


def shelf_location(typed: str) -> str:
    """Free text as staff type it (« étagère B2 »), single-spaced; empty when none was said."""
    shelf = " ".join(typed.split())
    if len(shelf) > SHELF_MAX_LENGTH:
        raise Unprocessable(_("l'emplacement tient en %(count)d caractères au plus")
                            % {"count": SHELF_MAX_LENGTH})
    return shelf


@dataclass(frozen=True)
class Search:
    """What staff typed: maybe a pickup code (typed, or read from its QR code), and otherwise
    part of a resident's name or e-mail address."""

    code: str | None
    like: str


def desk_search(typed: str) -> Search:
    text = " ".join(typed.split())
    if len(text) < SEARCH_MIN_LENGTH:
        raise Unprocessable(_("tapez au moins %(count)d caractères : un code, un nom ou une "
                              "adresse e-mail") % {"count": SEARCH_MIN_LENGTH})
    if len(text) > SEARCH_MAX_LENGTH:
        raise Unprocessable(_("la recherche tient en %(count)d caractères au plus")
                            % {"count": SEARCH_MAX_LENGTH})
    code = normalized_code(text)
    looks_like_code = len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code)
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Search(code if looks_like_code else None, f"%{escaped}%")


def may_see_code(*, viewer_id: object, resident_id: object | None, works_at_hub: bool) -> bool:
    """The resident whose order it is, and the hub's staff (platform admins included)."""
    return works_at_hub or (resident_id is not None and viewer_id == resident_id)


def code_qr_svg(code: str) -> bytes:
    """The pickup code as a QR code, in SVG: the desk's scanner reads back just the code."""
    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(
        buffer, kind="svg", scale=8, border=2, xmldecl=False, title=f"Code de retrait {code}")
    return buffer.getvalue()
