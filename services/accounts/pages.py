"""The accounts service's pages: sign in, sign up, sign out (French, forms without JavaScript)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from libs.auth.tokens import Principal
from libs.auth.web import SESSION_COOKIE, MaybeUser
from libs.kit.app import Runtime
from libs.kit.errors import Conflict, Unauthorized
from libs.kit.pages import templates_for
from libs.kit.runtime import ServiceRuntime
from services.accounts import use_cases
from services.accounts.domain import MIN_PASSWORD_LENGTH, Credentials, Registration, safe_redirect
from services.accounts.tables import User

router = APIRouter(include_in_schema=False)
templates = templates_for(__file__)

FIELD_ERRORS = {
    "name": "Indiquez votre nom.",
    "email": "Indiquez une adresse e-mail valide, par exemple prenom@exemple.fr.",
    "password": f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.",
}

FormText = Annotated[str, Form()]
NextPath = Annotated[str, Form(alias="next")]


def _page(request: Request, template: str, principal: Principal | None, *, status_code: int = 200,
          **context) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {"principal": principal, **context},
                                      status_code=status_code)


def _signed_in(runtime: ServiceRuntime, user: User, target: str) -> RedirectResponse:
    token = use_cases.issue_token(runtime, user)
    response = RedirectResponse(safe_redirect(target), status_code=303)
    response.set_cookie(SESSION_COOKIE, token.access_token, max_age=token.expires_in, path="/",
                        secure=runtime.settings.cookie_secure, httponly=True, samesite="lax")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, principal: MaybeUser,
                     next_: Annotated[str, Query(alias="next")] = "/"):
    return _page(request, "login.html", principal, email="", next=safe_redirect(next_))


@router.post("/login")
async def login(request: Request, runtime: Runtime, principal: MaybeUser, email: FormText = "",
                password: FormText = "", next_: NextPath = "/") -> Response:
    try:
        user = await use_cases.authenticate(runtime, Credentials(email=email, password=password))
    except (Unauthorized, ValidationError):
        return _page(request, "login.html", principal, status_code=400, email=email.strip(),
                     next=safe_redirect(next_), error="Adresse e-mail ou mot de passe incorrect.")
    return _signed_in(runtime, user, next_)


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
        errors = {field: message for field, message in FIELD_ERRORS.items() if field in fields}
        return again(422, "Le formulaire contient des erreurs : corrigez-les puis validez.", errors)
    try:
        user = await use_cases.sign_up(runtime, registration)
    except Conflict:
        return again(409, "Un compte existe déjà pour cette adresse e-mail : connectez-vous.", {})
    return _signed_in(runtime, user, next_)


@router.post("/logout")
async def logout(runtime: Runtime) -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=runtime.settings.cookie_secure,
                           httponly=True, samesite="lax")
    return response
