"""The hub page for visitors not signed in, answered from the pages kept at the hub's generation
before routing: it is the most read page of all, and once kept, what it costs is the path to it.

Only the kept page is answered here, to a GET without a session cookie or a bearer token, after
the services' middleware (language, headers, metrics, correlation) has run as for any request;
everything else (a page not kept yet or kept at an older generation, a signed-in visitor, an
unknown hub) goes on to the route, which renders and keeps.
"""

from __future__ import annotations

import re
from uuid import UUID

from libs.auth.web import SESSION_COOKIE
from services.catalog.storefront import freshness, pages

_COOKIE = re.compile(rb"(?:^|;)\s*" + SESSION_COOKIE.encode() + rb"=")
_HEADERS = [(b"content-type", b"text/html; charset=utf-8")]


class KeptHubPages:
    def __init__(self, app, prefix: str) -> None:
        self.app = app
        self.path = re.compile(re.escape(prefix) + r"/hubs/([0-9a-fA-F-]{32,36})")
        # Named as the route would be, in the metrics and wherever else the route is asked for.
        self.route = next(route for route in pages.router.routes
                          if getattr(route, "endpoint", None) is pages.hub_page)

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] == "http" and scope["method"] == "GET"
                and (matched := self.path.fullmatch(scope["path"]))
                and not _signed_in(scope["headers"])):
            page = await self._kept(scope, matched[1])
            if page is not None:
                scope["route"] = self.route
                await send({"type": "http.response.start", "status": 200, "headers": [
                    *_HEADERS, (b"content-length", str(len(page)).encode())]})
                await send({"type": "http.response.body", "body": page})
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _kept(scope, hub: str) -> bytes | None:
        try:
            hub_id = UUID(hub)
        except ValueError:
            return None
        app = scope["app"]
        page = pages.kept_pages(app).get(
            pages.kept_page_key(hub_id, scope),
            await freshness.latest_generation(app.state.runtime.database, hub_id))
        return page.anonymous if page is not None else None


def _signed_in(headers) -> bool:
    for name, value in headers:
        if name == b"authorization" or (name == b"cookie" and _COOKIE.search(value)):
            return True
    return False
