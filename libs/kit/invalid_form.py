"""The page a browser gets when a form's fields do not even have the shape a route declares (a
value far too long, text where a yes or no goes, a field missing): the forms check what people
type and say so next to the field, so this is for forms tampered with or outgrown, and it still
says what went wrong, in the person's language, with the way back to the form."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request
from fastapi.responses import Response

from libs.kit.csrf import principal_of, way_back
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _
from libs.kit.pages import problem_page

TITLE = N_("Formulaire non valable")
MESSAGE = N_("Une valeur envoyée n'est pas acceptée : vide, trop longue ou d'un type inattendu. "
             "Revenez au formulaire, corrigez-la, puis recommencez.")
FIELDS = N_("Champs en cause : %(fields)s")


async def invalid_form_page(request: Request, locations: Sequence[Sequence[str | int]]) -> Response:
    """422 with the names of the fields in question (``locations`` as pydantic gives them)."""
    fields = sorted({str(location[-1]) for location in locations if location})
    return problem_page(request, await principal_of(request), 422, title=_(TITLE),
                        message=_(MESSAGE),
                        detail=_(FIELDS) % {"fields": ", ".join(fields)} if fields else None,
                        back=way_back(request))
