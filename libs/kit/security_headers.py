"""The headers every response carries so that a browser limits what a page of ours can do: which
scripts, styles and images it may load, who may frame it, what it tells other sites.

The pages have no script at all and load nothing from elsewhere; their styles are inline (the
layout's <style> and some style attributes), so styles may be. The API docs page (Swagger UI)
is the exception: it loads its script and styles from a CDN and starts with an inline script,
and gets a policy of its own on its path only.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.kit.csrf import is_https

# Forms post to our own pages; the payout onboarding and a hosted checkout leave a form's answer
# for Stripe's pages, which form-action also governs.
PAGE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: https:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self' https://*.stripe.com",
    "frame-ancestors 'none'",
])
_SWAGGER_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = "; ".join([
    "default-src 'self'",
    f"script-src 'self' 'unsafe-inline' {_SWAGGER_CDN}",
    f"style-src 'self' 'unsafe-inline' {_SWAGGER_CDN}",
    "img-src 'self' data: https:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])
COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "cross-origin-opener-policy": "same-origin",
}
# A year, once the browser has come over HTTPS: it then never tries plain HTTP on this host.
HSTS = "max-age=31536000"


class SecurityHeadersMiddleware:
    """Adds the headers a response does not already set for itself."""

    def __init__(self, app: ASGIApp, docs_paths: Iterable[str | None] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(path for path in docs_paths if path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        policy = DOCS_POLICY if scope["path"] in self.docs_paths else PAGE_POLICY
        secure = is_https(scope)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("content-security-policy", policy)
                if secure:
                    headers.setdefault("strict-transport-security", HSTS)
            await send(message)

        await self.app(scope, receive, sending)
