"""What the connector reads: sites (configured, or all), their libraries, folder paths and file
types, from the settings, validated once.

Sites are given as server-relative paths (``/sites/hr``, ``/teams/eng``) or full URLs on the
tenant's host and found with ``GET /sites/{host}:/{path}``; with no site configured every site
``GET /sites?search=*`` returns (learn.microsoft.com/graph/api/site-search; under Sites.Selected
only the sites granted to the app can be read). Paths in ``include_paths`` / ``exclude_paths``
are ``<site path>/<library name>/<folder>`` prefixes, compared case-insensitively.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from core.acl import PrincipalError, parse_principal
from core.config import ConfigError

from .settings import SharePointConnectorConfig


@dataclass(frozen=True)
class Site:
    id: str  # Graph's <host>,<site guid>,<web guid>
    path: str  # server-relative, e.g. /sites/hr ("" for the root site)
    title: str
    web_url: str


@dataclass(frozen=True)
class Library:
    site: Site
    drive_id: str
    name: str


def site_path(value: str, host: str, where: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme:
        if (parts.hostname or "").lower() != host:
            raise ConfigError(f"{where}: {value!r} is not on {host}")
        path = parts.path
    else:
        path = value.strip()
    path = "/" + path.strip("/")
    return "" if path == "/" else path.lower()


@dataclass(frozen=True)
class Scope:
    host: str
    sites: tuple[str, ...]
    exclude_sites: frozenset[str]
    libraries: frozenset[str]
    exclude_libraries: frozenset[str]
    include_paths: tuple[str, ...]
    exclude_paths: tuple[str, ...]
    extensions: frozenset[str]
    max_bytes: int
    anonymous: tuple[str, ...]

    @classmethod
    def from_config(cls, name: str, conf: SharePointConnectorConfig) -> Scope:
        where = f"connectors.{name}"
        host = conf.host.strip().lower()
        if not host or "/" in host or ":" in host:
            raise ConfigError(f"{where}.host must be the SharePoint host, like contoso.sharepoint.com")
        if conf.max_file_mb <= 0 or conf.concurrency <= 0:
            raise ConfigError(f"{where}.max_file_mb and .concurrency must be positive")
        try:
            anonymous = tuple(parse_principal(p) for p in conf.anonymous_link_readers)
        except PrincipalError as exc:
            raise ConfigError(f"{where}.anonymous_link_readers: {exc}") from None
        return cls(
            host=host,
            sites=tuple(site_path(s, host, f"{where}.sites") for s in conf.sites),
            exclude_sites=frozenset(site_path(s, host, f"{where}.exclude_sites") for s in conf.exclude_sites),
            libraries=frozenset(n.strip().lower() for n in conf.libraries),
            exclude_libraries=frozenset(n.strip().lower() for n in conf.exclude_libraries),
            include_paths=tuple(_prefix(p) for p in conf.include_paths),
            exclude_paths=tuple(_prefix(p) for p in conf.exclude_paths),
            extensions=frozenset(e.lower() if e.startswith(".") else f".{e.lower()}" for e in conf.extensions),
            max_bytes=int(conf.max_file_mb * 1024 * 1024),
            anonymous=anonymous,
        )

    def wants_site(self, path: str) -> bool:
        return path.lower() not in self.exclude_sites

    def wants_library(self, name: str) -> bool:
        lowered = name.strip().lower()
        return (not self.libraries or lowered in self.libraries) and lowered not in self.exclude_libraries

    def wants_path(self, library: Library, folder: str) -> bool:
        """Whether files in ``folder`` (a path below the library root) are in scope."""
        full = _prefix(f"{library.site.path}/{library.name}/{folder}")
        if any(_under(full, p) for p in self.exclude_paths):
            return False
        return not self.include_paths or any(_under(full, p) or _under(p, full) for p in self.include_paths)

    def wants_file(self, library: Library, folder: str) -> bool:
        full = _prefix(f"{library.site.path}/{library.name}/{folder}")
        if any(_under(full, p) for p in self.exclude_paths):
            return False
        return not self.include_paths or any(_under(full, p) for p in self.include_paths)

    def problem(self, name: str, size: object, parsers: frozenset[str]) -> str | None:
        """Why a file is not indexed whatever its content, or None."""
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in self.extensions:
            return f"file type {suffix or '(none)'} is not indexed (extensions)"
        if suffix not in parsers:
            return f"no parser for {suffix} files in this build"
        if isinstance(size, int) and size > self.max_bytes:
            return f"the file is {size} bytes, over max_file_mb"
        return None


def _prefix(path: str) -> str:
    return "/" + "/".join(p for p in path.strip().lower().split("/") if p)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def folder_segments(folder: str) -> Iterator[str]:
    yield from (p for p in folder.split("/") if p)
