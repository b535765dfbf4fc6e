"""The real host of a link, for every surface's rule that a link in an answer pointing at none of
its cited sources shows where it really goes (bot/slack/link_hosts.py, bot/teams/markdown.py,
the web chat's page): the label a model or a document wrote can say anything."""

from __future__ import annotations

import re
from urllib.parse import unquote

_SCHEME = re.compile(r"(?i)(https?)://")
_HOST_CHARS = re.compile(r"[a-z0-9.\-\[\]:]+")


def real_host(url: str) -> tuple[str, bool] | None:
    """What to show for ``url`` (host, or mailto address) and whether it carries userinfo."""
    if url[:7].lower() == "mailto:":
        address = unquote(url[7:].split("?", 1)[0])
        return (address, False) if address else None
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None
    # Browsers end the authority at / \ ? or #, and take the host after the last @.
    authority = re.split(r"[/\\?#]", url[scheme.end():], maxsplit=1)[0]
    _userinfo, at, hostport = authority.rpartition("@")
    if hostport.startswith("[") and "]" in hostport:
        host = hostport[: hostport.index("]") + 1]
    else:
        host = hostport.rsplit(":", 1)[0]
    host = unquote(host).lower()
    if not host.isascii():
        try:  # IDNA as the wire carries it: xn--, never the look-alike Unicode form
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if not host or not _HOST_CHARS.fullmatch(host):
        return None
    return host, bool(at)


def label_shows(label: str, shown: str) -> bool:
    """``shown`` appears in ``label`` as a whole name (not as part of ``shown.evil.example``)."""
    return re.search(r"(?<![\w.-])" + re.escape(shown) + r"(?!\.?[\w-])", label, re.IGNORECASE) is not None
