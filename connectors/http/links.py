"""URLs a client may follow: its base URL, links joined to it, and next links while paging.

One rule: a client sends its credentials only to its own origin (scheme, host and port). A
relative link is joined to a base keeping the base's context path (``/wiki`` on Confluence
Cloud, ``/confluence`` on some Data Center sites) and not doubling it when the link already
starts with it; a link that lands on another origin is refused. While paging, a next link seen
before is refused too: a server-side loop would otherwise page forever.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from .errors import HttpError

Origin = tuple[str, str, int | None]

_SCHEMES = frozenset({"http", "https"})


def base_url(url: str, *, name: str = "base_url", example: str = "https://example.com") -> str:
    """``url`` checked and without its trailing slash; ValueError names the setting ``name``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise ValueError(f"{name} must be an http(s) URL such as {example}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{name} must not carry a query, a fragment or credentials")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def origin(url: str) -> Origin:
    """Scheme, host and port (the scheme's default port when none is written)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def join(link: str, base: str) -> str:
    """``link`` made absolute against ``base``, keeping the base's context path once."""
    if urlsplit(link).scheme or urlsplit(link).netloc:
        return urljoin(base, link)
    root = urlsplit(base)
    context = root.path.rstrip("/")
    relative = link if link.startswith("/") else "/" + link
    if not (context and (relative == context or relative.startswith(context + "/"))):
        relative = context + relative
    return f"{root.scheme}://{root.netloc}{relative}"


class Links:
    """Resolves links against a client's ``base`` and refuses those to another origin, raising
    ``refuse`` (a BadResponse class) whose message ends with ``hint``."""

    def __init__(self, base: str, refuse: type[HttpError], hint: str = "") -> None:
        self.base = base
        self._origin = origin(base)
        self._refuse = refuse
        self._hint = hint

    def resolve(self, link: str, what: str, shown: str, base: str | None = None) -> str:
        """``link`` (a ``what`` found while requesting ``shown``) as an absolute URL on the
        client's origin; relative to ``base`` when that is an http(s) URL, else to the client's."""
        link = link.strip()
        if not link:
            raise self._refuse(f"GET {shown}: empty {what}", path=shown)
        if not (base and urlsplit(base).scheme in _SCHEMES):
            base = self.base
        resolved = join(link, base)
        if origin(resolved) != self._origin:
            target = urlsplit(resolved)
            raise self._refuse(
                f"GET {shown}: the {what} points to another host ({target.scheme}://"
                f"{target.hostname}), not {urlsplit(self.base).hostname}; not following it "
                f"with the credentials{self._hint}",
                path=shown,
            )
        return resolved

    def pager(self) -> NextLinks:
        """A fresh record of the next links followed, for one paging walk."""
        return NextLinks(self, self._refuse)


class NextLinks:
    """The next links of one paging walk: each resolved, none followed twice."""

    def __init__(self, links: Links, refuse: type[HttpError]) -> None:
        self._links = links
        self._refuse = refuse
        self._seen: set[str] = set()

    def follow(self, link: str, shown: str, base: str | None = None) -> str:
        following = self._links.resolve(link, "next link", shown, base)
        if following in self._seen:
            raise self._refuse(
                f"GET {shown} -> 200: the next link repeats an earlier one "
                f"({urlsplit(following).path}); stopping a paging loop",
                status=200,
                path=shown,
            )
        self._seen.add(following)
        return following
