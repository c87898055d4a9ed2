"""The accounts service's pages: sign in, sign up, sign out, contact preferences (French first,
forms without JavaScript)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from libs.auth.tokens import Principal
from libs.auth.web import SESSION_COOKIE, MaybeUser
from libs.kit.app import Runtime
from libs.kit.csrf import is_https
from libs.kit.errors import Conflict, Unauthorized
from libs.kit.i18n import N_, ngettext, translations
from libs.kit.i18n import gettext as _
from libs.kit.pages import sign_in_redirect, templates_for
from libs.kit.runtime import ServiceRuntime
from services.accounts import use_cases
from services.accounts.api import client_address
from services.accounts.domain import (
    MIN_PASSWORD_LENGTH,
    ContactPreferences,
    Credentials,
    Registration,
    safe_redirect,
)
from services.accounts.tables import User

router = APIRouter(include_in_schema=False)
templates = templates_for(__file__)

FIELD_ERRORS = {
    "name": N_("Indiquez votre nom."),
    "email": N_("Indiquez une adresse e-mail valide, par exemple prenom@exemple.fr."),
    "password": N_("Le mot de passe doit compter au moins %(count)d caractères."),
}

FormText = Annotated[str, Form()]
NextPath = Annotated[str, Form(alias="next")]


def _page(request: Request, template: str, principal: Principal | None, *, status_code: int = 200,
          **context) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {"principal": principal, **context},
                                      status_code=status_code)


def _secure_cookie(request: Request, runtime: ServiceRuntime) -> bool:
    """Secure as configured, and always when the browser came over HTTPS."""
    return runtime.settings.cookie_secure or is_https(request.scope)


def _signed_in(request: Request, runtime: ServiceRuntime, user: User, target: str
               ) -> RedirectResponse:
    token = use_cases.issue_token(runtime, user)
    response = RedirectResponse(safe_redirect(target), status_code=303)
    response.set_cookie(SESSION_COOKIE, token.access_token, max_age=token.expires_in, path="/",
                        secure=_secure_cookie(request, runtime), httponly=True, samesite="lax")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, principal: MaybeUser,
                     next_: Annotated[str, Query(alias="next")] = "/"):
    return _page(request, "login.html", principal, email="", next=safe_redirect(next_))


@router.post("/login")
async def login(request: Request, runtime: Runtime, principal: MaybeUser, email: FormText = "",
                password: FormText = "", next_: NextPath = "/") -> Response:
    try:
        user = await use_cases.authenticate(runtime, Credentials(email=email, password=password),
                                            client_address(request))
    except use_cases.TooManySignIns as refusal:
        minutes = math.ceil(refusal.retry_after_s / 60)
        page = _page(request, "login.html", principal, status_code=429, email=email.strip(),
                     next=safe_redirect(next_),
                     error=ngettext("Trop de tentatives de connexion : réessayez dans %(num)d "
                                    "minute.", "Trop de tentatives de connexion : réessayez dans "
                                    "%(num)d minutes.", minutes) % {"num": minutes})
        page.headers.update(refusal.headers)
        return page
    except (Unauthorized, ValidationError):
        return _page(request, "login.html", principal, status_code=400, email=email.strip(),
                     next=safe_redirect(next_), error=_("Adresse e-mail ou mot de passe incorrect."))
    return _signed_in(request, runtime, user, next_)


@router.get("/signup", response_class=HTMLResponse)
async def signup_page(request: Request, principal: MaybeUser,
                      next_: Annotated[str, Query(alias="next")] = "/"):
    return _page(request, "signup.html", principal, name="", email="", errors={},
                 next=safe_redirect(next_), min_password_length=MIN_PASSWORD_LENGTH)


@router.post("/signup")
async def signup(request: Request, runtime: Runtime, principal: MaybeUser, name: FormText = "",
                 email: FormText = "", password: FormText = "", next_: NextPath = "/") -> Response:
    def again(status_code: int, error: str, errors: dict[str, str]) -> HTMLResponse:
        return _page(request, "signup.html", principal, status_code=status_code, name=name.strip(),
                     email=email.strip(), next=safe_redirect(next_), error=error, errors=errors,
                     min_password_length=MIN_PASSWORD_LENGTH)

    try:
        registration = Registration(email=email, password=password, name=name)
    except ValidationError as exc:
        fields = {str(error["loc"][0]) for error in exc.errors()}
        errors = {field: _(message) % {"count": MIN_PASSWORD_LENGTH}
                  for field, message in FIELD_ERRORS.items() if field in fields}
        return again(422, _("Le formulaire contient des erreurs : corrigez-les puis validez."),
                     errors)
    try:
        user = await use_cases.sign_up(runtime, registration)
    except Conflict:
        return again(409, _("Un compte existe déjà pour cette adresse e-mail : connectez-vous."),
                     {})
    return _signed_in(request, runtime, user, next_)


@router.post("/logout")
async def logout(request: Request, runtime: Runtime) -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=_secure_cookie(request, runtime),
                           httponly=True, samesite="lax")
    return response


PREFERENCES_PAGE = "/accounts/preferences"

# The form speaks the language the person chose for their messages, whatever the site's.
PREFERENCE_WORDS = {
    "title": N_("Mes préférences de contact"),
    "intro": N_("Nous vous écrivons quand votre commande est confirmée, prête au tiers-lieu, "
                "ou vous attend encore."),
    "locale": N_("Langue des messages"),
    "phone": N_("Téléphone mobile"),
    "phone_hint": N_("Par exemple 06 12 34 56 78 ou +33 6 12 34 56 78."),
    "sms_opt_in": N_("Recevoir aussi un SMS quand ma commande est prête ou m'attend"),
    "save": N_("Enregistrer"),
    "saved": N_("Vos préférences sont enregistrées."),
    "invalid": N_("Le formulaire contient des erreurs : corrigez-les puis validez."),
    "phone_error": N_("Indiquez un numéro de mobile valide, par exemple 06 12 34 56 78."),
    "sms_opt_in_error": N_("Pour recevoir des SMS, indiquez votre numéro de mobile."),
    "locale_error": N_("Choisissez le français ou l'anglais."),
}
LOCALE_NAMES = {"fr": "Français", "en": "English"}


def _words_in(locale: str) -> dict[str, str]:
    speak = translations("accounts", locale).gettext
    return {key: speak(french) for key, french in PREFERENCE_WORDS.items()}


def _preferences_page(request: Request, principal: Principal, *, locale: str, phone: str,
                      sms_opt_in: bool, status_code: int = 200, errors: dict[str, str] | None = None,
                      notice: str | None = None, error: str | None = None) -> HTMLResponse:
    return _page(request, "preferences.html", principal, status_code=status_code,
                 words=_words_in(locale), locale=locale, locale_names=LOCALE_NAMES,
                 phone=phone, sms_opt_in=sms_opt_in, errors=errors or {}, notice=notice,
                 error=error)


@router.get("/preferences", response_class=HTMLResponse)
async def preferences_page(request: Request, runtime: Runtime, principal: MaybeUser,
                           saved: bool = False) -> Response:
    if principal is None:
        return sign_in_redirect(request)
    preferences = await use_cases.contact_preferences(runtime, principal.user_id)
    words = _words_in(preferences.locale)
    return _preferences_page(request, principal, locale=preferences.locale,
                             phone=preferences.phone or "", sms_opt_in=preferences.sms_opt_in,
                             notice=words["saved"] if saved else None)


@router.post("/preferences")
async def change_preferences(request: Request, runtime: Runtime, principal: MaybeUser,
                             locale: FormText = "fr", phone: FormText = "",
                             sms_opt_in: Annotated[bool, Form()] = False) -> Response:
    if principal is None:
        return sign_in_redirect(request, PREFERENCES_PAGE)
    try:
        wanted = ContactPreferences(locale=locale, phone=phone, sms_opt_in=sms_opt_in)
    except ValidationError as exc:
        shown = locale if locale in LOCALE_NAMES else "fr"
        words = _words_in(shown)
        fields = {_field_of(error) for error in exc.errors()}
        return _preferences_page(
            request, principal, locale=shown, phone=phone.strip(), sms_opt_in=sms_opt_in,
            status_code=422, error=words["invalid"],
            errors={field: words[f"{field}_error"] for field in fields})
    await use_cases.change_contact_preferences(runtime, principal.user_id, wanted)
    return RedirectResponse(f"{PREFERENCES_PAGE}?saved=true", status_code=303)


def _field_of(error: dict) -> str:
    return str(error["loc"][0]) if error["loc"] else "sms_opt_in"
