"""Posting forms in tests as a browser holding the page's form token does. A browser sends all
its cookies with every request, so the form token's cookie goes along even with a test's own
``Cookie`` header; the token itself goes as ``X-CSRF-Token``, which the middleware takes in place
of the hidden field. Tests that walk the pages read the hidden field instead (tests/support/forms)."""

from __future__ import annotations

import httpx

from libs.kit.csrf import COOKIE, HEADER, new_token


def csrf_ready(client: httpx.AsyncClient, token: str | None = None) -> httpx.AsyncClient:
    """``client``, now sending a form token with every request (the same client, for chaining)."""
    token = token or new_token()
    client.headers[HEADER] = token

    async def with_token_cookie(request: httpx.Request) -> None:
        cookies = request.headers.get("cookie", "")
        if f"{COOKIE}=" not in cookies:
            request.headers["cookie"] = "; ".join(filter(None, (cookies, f"{COOKIE}={token}")))

    client.event_hooks["request"].append(with_token_cookie)
    return client

