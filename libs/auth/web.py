"""FastAPI dependencies that turn a bearer token or the session cookie into a Principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from libs.auth.tokens import InvalidToken, Principal, TokenVerifier
from libs.kit.errors import Forbidden, Unauthorized

SESSION_COOKIE = "adopte_session"


async def optional_principal(request: Request) -> Principal | None:
    """A bad bearer token is an error the client must see; a stale session cookie only means
    the browser is no longer signed in, so the page still renders for an anonymous visitor.

    async, though it awaits nothing, so FastAPI runs it on the event loop, not a worker thread."""
    verifier: TokenVerifier = request.app.state.runtime.token_verifier
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        try:
            return verifier.verify(credentials.strip())
        except InvalidToken:
            raise Unauthorized("the access token is invalid or expired; sign in again") from None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        return None
    try:
        return verifier.verify(cookie)
    except InvalidToken:
        return None


async def required_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized("sign in first: this needs a bearer token or a session")
    return principal


async def platform_admin(principal: Annotated[Principal, Depends(required_principal)]) -> Principal:
    if not principal.is_platform_admin:
        raise Forbidden("only a platform administrator may do this")
    return principal


CurrentUser = Annotated[Principal, Depends(required_principal)]
MaybeUser = Annotated[Principal | None, Depends(optional_principal)]
PlatformAdmin = Annotated[Principal, Depends(platform_admin)]
