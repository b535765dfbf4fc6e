"""Every sentence the web chat's server sends (the page's own wording is in static/app.js)."""

from __future__ import annotations

BODY_TOO_LARGE = "request body too large (limit {limit} bytes)"
BODY_NOT_JSON = 'body must be JSON: {"user", "text", "thread_id"}'
BODY_NOT_OBJECT = "body must be a JSON object"
UNKNOWN_USER = "unknown user: pick one from /api/webchat/users"
TEXT_NOT_STRING = "text must be a string"
BAD_THREAD_ID = "thread_id must be a short string or null"
NOT_LOOPBACK = (
    "the web chat only answers requests addressed to localhost, 127.0.0.1 or [::1]; "
    "open it at http://127.0.0.1:<port>/"
)
CROSS_SITE = "the web chat only answers its own page: open it directly at http://127.0.0.1:<port>/"
