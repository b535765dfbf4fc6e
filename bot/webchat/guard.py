"""Rule: the web chat answers only requests addressed to a loopback host, and its API only
requests from its own origin.

Why: the identity picker lets whoever reaches the API ask as anyone. Listening on 127.0.0.1
keeps other machines out, but not other pages in the developer's browser: a page on
``evil.example`` can point its own name at 127.0.0.1 (DNS rebinding) and then call the API as
if same-origin, or post to it cross-site. A rebound page's requests carry its name in ``Host``;
a cross-site one carries a foreign ``Origin`` and, in browsers with Fetch Metadata,
``Sec-Fetch-Site: cross-site``. A request with no ``Origin`` (curl, or the page's own GETs) is
let through, since its ``Host`` is loopback.

Refusals: a ``Host`` that is not ``localhost``, 127.0.0.0/8 or ``[::1]`` (any port) -> 421
Misdirected Request (RFC 9110 15.5.20: this server is not authoritative for that name, which is
exactly the rebinding case; 403 would suggest that credentials could help). A cross-site fetch,
or an API request from another origin -> 403.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from bot.webchat import messages

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HOST = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9.-]+))(?::(?P<port>[0-9]{1,5}))?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback(name: str) -> bool:
    """``localhost`` or a loopback address (any other name, 127.0.0.1.evil.example included,
    is not): the web chat's listen address and the hosts it answers."""
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def loopback_host(host: str | None) -> tuple[str, int | None] | None:
    """``(host, port)`` of a ``Host`` header naming this machine's loopback, else None."""
    match = _HOST.fullmatch(host or "")
    if match is None:
        return None
    port = int(match["port"]) if match["port"] else None
    if port is not None and port > 65535:
        return None
    name = match["v6"] or match["name"].lower()
    if not is_loopback(name):
        return None
    return (_normal(name), port)


def _normal(hostname: str) -> str:
    try:
        return str(ipaddress.ip_address(hostname))
    except ValueError:
        return hostname.lower()


def same_origin(origin: str, scheme: str, host: tuple[str, int | None]) -> bool:
    """Whether an ``Origin`` header is ``scheme://host:port`` of the request itself."""
    try:
        url = urlsplit(origin)
        origin_port = url.port
    except ValueError:  # a port that is no number, or out of range
        return False
    if url.scheme != scheme or not url.hostname or url.path or url.query or url.username is not None:
        return False
    name, port = host
    default = _DEFAULT_PORTS.get(scheme)
    return _normal(url.hostname) == name and (origin_port or default) == (port or default)


def refusal(request: web.Request, *, api: bool) -> web.Response | None:
    host = loopback_host(request.headers.get("Host"))
    if host is None:
        return web.json_response({"error": messages.NOT_LOOPBACK}, status=421)
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return web.json_response({"error": messages.CROSS_SITE}, status=403)
    origin = request.headers.get("Origin")
    checks_origin = api or request.method not in ("GET", "HEAD")
    if checks_origin and origin is not None and not same_origin(origin, request.scheme, host):
        return web.json_response({"error": messages.CROSS_SITE}, status=403)
    return None


def _guarded(handler: Handler, *, api: bool) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        # Not ``refusal(...) or ...``: an aiohttp response is a mapping, and an empty one is falsy.
        refused = refusal(request, api=api)
        return refused if refused is not None else await handler(request)

    return guarded


def page(handler: Handler) -> Handler:
    """The page and its static files."""
    return _guarded(handler, api=False)


def api(handler: Handler) -> Handler:
    """``/api/webchat/*``: also same-origin whenever the browser says where it comes from."""
    return _guarded(handler, api=True)
