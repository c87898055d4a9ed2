"""FastAPI dependencies that turn a bearer token or the session cookie into a Principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from libs.auth.tokens import InvalidToken, Principal, TokenVerifier
from libs.kit.errors import Forbidden, Unauthorized

SESSION_COOKIE = "adopte_session"


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    return request.cookies.get(SESSION_COOKIE)


def optional_principal(request: Request) -> Principal | None:
    token = _token(request)
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.runtime.token_verifier
    try:
        return verifier.verify(token)
    except InvalidToken:
        raise Unauthorized("the access token is invalid or expired; sign in again") from None


def required_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized("sign in first: this needs a bearer token or a session")
    return principal


def platform_admin(principal: Annotated[Principal, Depends(required_principal)]) -> Principal:
    if not principal.is_platform_admin:
        raise Forbidden("only a platform administrator may do this")
    return principal


CurrentUser = Annotated[Principal, Depends(required_principal)]
MaybeUser = Annotated[Principal | None, Depends(optional_principal)]
PlatformAdmin = Annotated[Principal, Depends(platform_admin)]
