"""The SharePoint Online connector's settings: ``[connectors.<name>]`` with ``type = "sharepoint"``."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.config import ConnectorConfig

DEFAULT_EXTENSIONS = [".docx", ".pdf", ".pptx", ".xlsx", ".txt", ".md", ".html"]


@dataclass
class SharePointConnectorConfig(ConnectorConfig):
    host: str = ""  # the tenant's SharePoint host, e.g. contoso.sharepoint.com
    tenant_id: str = ""  # the Entra tenant (directory) id
    client_id: str = ""  # the app registration's application (client) id
    # Secret names in the secret store: a PEM with the private key and its certificate (needed
    # for SharePoint REST app-only calls), or a client secret (Graph only: no site groups).
    certificate_secret: str = "sharepoint-certificate"
    client_secret_secret: str = ""
    authority_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    rest_url: str = ""  # SharePoint REST root; default https://<host>
    sites: list[str] = field(default_factory=list)  # /sites/hr, /teams/eng or full URLs; empty: all
    exclude_sites: list[str] = field(default_factory=list)
    libraries: list[str] = field(default_factory=list)  # library names; empty: every library
    exclude_libraries: list[str] = field(default_factory=list)
    # "<site path>/<library>/<folder>" prefixes, e.g. "/sites/hr/Documents/Archive"
    include_paths: list[str] = field(default_factory=list)
    exclude_paths: list[str] = field(default_factory=list)
    site_pages: bool = True
    extensions: list[str] = field(default_factory=lambda: list(DEFAULT_EXTENSIONS))
    max_file_mb: float = 25.0
    # Who reads a file shared by an anonymous ("anyone with the link") link: nobody by default,
    # or the principals listed (e.g. ["org:members"]).
    anonymous_link_readers: list[str] = field(default_factory=list)
    concurrency: int = 4
    max_retries: int = 5
    max_retry_wait_seconds: float = 120.0
    timeout_seconds: float = 30.0
