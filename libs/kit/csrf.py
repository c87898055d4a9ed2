"""Cross-site request forgery protection for the forms, by double submission: the browser keeps
a random token in the ``adopte_csrf`` cookie, every form carries the same token in its hidden
``csrf_token`` field (or a script sends it as ``X-CSRF-Token``), and a form post whose token does
not match the cookie is refused. Another site can make the browser send the cookie, never read it.

Only what a cross-site page can send without asking (a form, or a fetch in no-cors mode: bodies
urlencoded, multipart, text/plain or none) and carrying no bearer token is checked. A JSON body
or an Authorization header needs a CORS preflight that no other site passes, so the JSON API
(bearer tokens, Stripe's webhooks) is not concerned.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.auth.web import optional_principal
from libs.kit.errors import Unauthorized, error_body
from libs.kit.i18n import N_
from libs.kit.i18n import gettext as _

COOKIE = "adopte_csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
# Where the token of the request being served waits for the page that renders its forms.
STATE_KEY = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_SENDABLE_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data",
                                 "text/plain", ""})
# Above the catalog's heaviest uploads (5 MiB photos and CSV files, and their form around them),
# so those pages still answer with their own word on a file too heavy.
MAX_BODY_BYTES = 16 * 2**20
# A year: the token only has to outlive the pages open in a browser.
COOKIE_MAX_AGE = 365 * 24 * 3600
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,128}")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def request_token(scope: Scope) -> str:
    """The token a page served for this request puts in its forms (empty outside the middleware)."""
    return scope.get("state", {}).get(STATE_KEY, "")


def is_https(scope: Scope) -> bool:
    """Whether the browser reached us over HTTPS, directly or through a proxy that says so."""
    if scope.get("scheme") == "https":
        return True
    forwarded = Headers(scope=scope).getlist("x-forwarded-proto")
    return any(proto.strip().lower() == "https" for value in forwarded for proto in value.split(","))


def token_cookie(token: str, *, secure: bool) -> str:
    """The ``Set-Cookie`` value: HttpOnly, as the pages carry the token and no script needs it."""
    cookie = f"{COOKIE}={token}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax"
    return cookie + "; Secure" if secure else cookie


class CsrfRefused(Exception):
    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class CsrfMiddleware:
    """Gives every browser its token and refuses the form posts that do not carry it."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        kept = _well_formed(cookie_parser(headers.get("cookie", "")).get(COOKIE))
        token = kept or new_token()
        scope.setdefault("state", {})[STATE_KEY] = token
        if kept is None:
            send = _setting_cookie(send, token_cookie(token, secure=is_https(scope)))
        if _forgeable(scope["method"], headers):
            try:
                receive = await self._checked(scope, receive, headers, kept)
            except CsrfRefused as refusal:
                response = await _refusal(scope, refusal)
                return await response(scope, receive, send)
        await self.app(scope, receive, send)

    async def _checked(self, scope: Scope, receive: Receive, headers: Headers,
                       expected: str | None) -> Receive:
        """The request's body, replayed unchanged once its token matched; else CsrfRefused."""
        if headers.get("sec-fetch-site", "").lower() == "cross-site":
            raise CsrfRefused("the form was sent from another site")
        if expected is None:
            raise CsrfRefused("the browser has no form token yet: reload the page")
        sent = headers.get(HEADER)
        if sent is None:
            body = await _body(receive, headers, self.max_body_bytes)
            sent = await _field_of(headers, body)
            receive = _replaying(body, receive)
        if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CsrfRefused("the form token is missing or does not match: reload the page")
        return receive


def _forgeable(method: str, headers: Headers) -> bool:
    """What another site's page could make a browser send with its cookies and without asking.
    A bearer token is the caller's own doing, never sent by a browser on its own (unlike Basic
    credentials), so a request carrying one is left out."""
    bearer = headers.get("authorization", "").lower().startswith("bearer ")
    return method in UNSAFE_METHODS and _media_type(headers) in FORM_SENDABLE_TYPES and not bearer


def _well_formed(token: str | None) -> str | None:
    return token if token and _TOKEN_SHAPE.fullmatch(token) else None


def _media_type(headers: Headers) -> str:
    return headers.get("content-type", "").partition(";")[0].strip().lower()


def _setting_cookie(send: Send, cookie: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []),
                                              (b"set-cookie", cookie.encode("latin-1"))]}
        await send(message)

    return sending


async def _body(receive: Receive, headers: Headers, limit: int) -> bytes:
    announced = headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise CsrfRefused(f"the form is heavier than {limit // 2**20} MiB", 413)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise CsrfRefused("the browser left before sending the whole form", 400)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise CsrfRefused(f"the form is heavier than {limit // 2**20} MiB", 413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _field_of(headers: Headers, body: bytes) -> str | None:
    media_type = _media_type(headers)
    if media_type == "application/x-www-form-urlencoded":
        fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        return next((value for name, value in fields if name == FIELD), None)
    if media_type == "multipart/form-data":
        return await _multipart_field(headers, body)
    return None


async def _multipart_field(headers: Headers, body: bytes) -> str | None:
    async def stream() -> AsyncIterator[bytes]:
        yield body

    try:
        form = await MultiPartParser(headers, stream()).parse()
    except MultiPartException:
        return None
    try:
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    finally:
        await form.close()


def _replaying(body: bytes, receive: Receive) -> Receive:
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


REFUSAL_WORDS = {
    403: (N_("Le formulaire a expiré"),
          N_("Ce formulaire n'est plus valable. Rechargez la page, puis recommencez.")),
    413: (N_("Formulaire trop lourd"),
          N_("Ce que vous envoyez est trop lourd. Allégez-le, puis recommencez.")),
}


async def _refusal(scope: Scope, refusal: CsrfRefused) -> Response:
    request = Request(scope)
    if "text/html" not in request.headers.get("accept", ""):
        code = {403: "csrf_failed", 413: "payload_too_large"}.get(refusal.status, "bad_request")
        return JSONResponse(error_body(refusal.status, code, refusal.message), refusal.status)
    # pages.py renders every form's hidden field with this module: it is imported here, late.
    from libs.kit.pages import problem_page

    title, message = REFUSAL_WORDS.get(refusal.status, (None, None))
    return problem_page(request, await principal_of(request), refusal.status,
                        title=title and _(title), message=message and _(message),
                        back=way_back(request))


async def principal_of(request: Request):
    """Who is signed in, for the page's header; nobody when this app has no runtime."""
    app = request.scope.get("app")
    if app is None or getattr(app.state, "runtime", None) is None:
        return None
    try:
        return await optional_principal(request)
    except Unauthorized:
        return None


def way_back(request: Request) -> tuple[str, str] | None:
    """Back to the page the form was on, when that page is ours."""
    referer = urlsplit(request.headers.get("referer", ""))
    if not referer.path or referer.netloc != request.headers.get("host"):
        return None
    return referer.path + (f"?{referer.query}" if referer.query else ""), _("Revenir au formulaire")
