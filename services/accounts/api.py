"""The accounts service's JSON API, under /accounts/api/v1."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel

from libs.auth.web import CurrentUser
from libs.kit.app import Runtime
from libs.kit.errors import ErrorBody
from services.accounts import use_cases
from services.accounts.domain import ContactPreferences, Credentials, Registration

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def client_address(request: Request) -> str | None:
    """The browser's address: uvicorn puts there the one a trusted proxy (the gateway) names."""
    return request.client.host if request.client else None


class UserOut(BaseModel):
    id: UUID
    email: str
    name: str
    roles: list[str]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


@router.post("/users", status_code=201, response_model=UserOut)
async def sign_up(registration: Registration, runtime: Runtime):
    """Open a resident's account (409 when the e-mail address already has one)."""
    return await use_cases.sign_up(runtime, registration)


@router.post("/token", response_model=TokenOut,
             responses={429: {"model": ErrorBody,
                              "description": "Too many failed sign-ins: see Retry-After"}})
async def issue_token(credentials: Credentials, request: Request, runtime: Runtime):
    """An access token to send as ``Authorization: Bearer <token>`` to every service. After
    repeated failures for one account or from one address, refused for a while (429 with
    Retry-After), right password or not."""
    user = await use_cases.authenticate(runtime, credentials, client_address(request))
    return use_cases.issue_token(runtime, user)


@router.get("/me", response_model=UserOut)
async def me(principal: CurrentUser, runtime: Runtime):
    return await use_cases.get_user(runtime, principal.user_id)


@router.get("/me/preferences", response_model=ContactPreferences)
async def my_preferences(principal: CurrentUser, runtime: Runtime):
    """How the signed-in person wishes to be told (French, e-mail only, until they say)."""
    return await use_cases.contact_preferences(runtime, principal.user_id)


@router.put("/me/preferences", response_model=ContactPreferences)
async def change_my_preferences(wanted: ContactPreferences, principal: CurrentUser,
                                runtime: Runtime):
    """Replace them: ``locale`` (fr or en), ``phone`` (E.164; French national form accepted),
    ``sms_opt_in`` (needs a phone). 422 on a bad number; emits ContactPreferencesChanged."""
    return await use_cases.change_contact_preferences(runtime, principal.user_id, wanted)
