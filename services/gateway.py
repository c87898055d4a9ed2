"""The gateway: one port for a hub whose services run as separate processes.

A request goes to the service owning the first segment of its path (`/orders/...` to the order
service), unchanged, Host included, so the pages and redirects a service builds point back at
the gateway. `/readyz` is ready when every service is; `/` opens on the hubs, as `adopte dev`
does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import httpx
from starlette.responses import JSONResponse, RedirectResponse

from libs.kit.errors import error_body
from libs.kit.security_headers import SecurityHeadersMiddleware

HOME_PAGE = "/orders/hubs"
# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
                        b"te", b"trailer", b"transfer-encoding", b"upgrade"})
TIMEOUT = httpx.Timeout(60.0, connect=5.0)


class Gateway:
    """An ASGI app forwarding each path prefix to its service's base URL."""

    def __init__(self, routes: Mapping[str, str],
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.routes = {prefix.rstrip("/"): url.rstrip("/") for prefix, url in routes.items()}
        self.transport = transport
        self.client: httpx.AsyncClient | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        path = scope["path"]
        upstream = self.upstream_of(path)
        if upstream is not None:
            return await self._forward(upstream, scope, receive, send)
        response = await self._own_route(path)
        # The services' answers carry their own security headers; the gateway's own need them too.
        await SecurityHeadersMiddleware(response)(scope, receive, send)

    def upstream_of(self, path: str) -> str | None:
        for prefix, url in self.routes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return url
        return None

    async def _own_route(self, path: str):
        if path == "/":
            return RedirectResponse(HOME_PAGE, status_code=303)
        if path == "/healthz":
            return JSONResponse({"status": "ok"})
        if path == "/readyz":
            return await self._readiness()
        return JSONResponse(error_body(404, "not_found", f"no service serves {path}"), 404)

    async def _readiness(self) -> JSONResponse:
        states = await asyncio.gather(*(self._ready(url) for url in self.routes.values()))
        services = dict(zip(self.routes, states, strict=True))
        if all(state == "ready" for state in states):
            return JSONResponse({"status": "ready", "services": services})
        return JSONResponse(error_body(503, "not_ready", "some services are not ready", [services]),
                            503)

    async def _ready(self, url: str) -> str:
        try:
            answer = await self._client().get(f"{url}/readyz", timeout=5)
        except httpx.TransportError as exc:
            return f"unreachable: {type(exc).__name__}"
        return "ready" if answer.status_code == 200 else f"answered {answer.status_code}"

    async def _forward(self, upstream: str, scope, receive, send) -> None:
        url = upstream + (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        has_body = any(name in (b"content-length", b"transfer-encoding")
                       for name, _ in scope["headers"])
        request = self._client().build_request(
            scope["method"], url, headers=_forwarded_headers(scope),
            content=_body(receive) if has_body else None)
        try:
            response = await self._client().send(request, stream=True)
        except httpx.TransportError as exc:
            failure = JSONResponse(error_body(502, "bad_gateway",
                                              f"the service behind {scope['path']} did not answer "
                                              f"({type(exc).__name__})"), 502)
            return await failure(scope, receive, send)
        try:
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": [(name.lower(), value) for name, value in response.headers.raw
                                    if name.lower() not in HOP_BY_HOP]})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    def _client(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False,
                                            transport=self.transport)
        return self.client

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


# Said again by the gateway: from the visitor, they would be believed by the services.
_RESTATED = {b"x-forwarded-for", b"x-forwarded-proto"}


def _forwarded_headers(scope) -> list[tuple[bytes, bytes]]:
    """The request's headers, the visitor's address and scheme as this gateway saw them (after
    believing a trusted proxy in front, when there is one)."""
    headers = [(name, value) for name, value in scope["headers"]
               if name not in HOP_BY_HOP and name not in _RESTATED]
    client = scope.get("client")
    if client:
        headers.append((b"x-forwarded-for", client[0].encode("latin-1")))
    headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")))
    return headers


async def _body(receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return

