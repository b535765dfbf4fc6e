"""The Confluence connector's settings: ``[connectors.<name>]`` with ``type = "confluence"``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.config import ConnectorConfig


@dataclass
class ConfluenceConnectorConfig(ConnectorConfig):
    url: str = ""  # Cloud: https://<site>.atlassian.net/wiki; Data Center: the base URL
    deployment: Literal["cloud", "datacenter"] = "cloud"  # cloud: email + API token; datacenter: a PAT
    email: str = ""  # Cloud: the account the API token belongs to
    api_token_secret: str = "confluence-api-token"  # secret names, looked up in the secret store
    pat_secret: str = "confluence-pat"
    spaces: list[str] = field(default_factory=list)  # space keys; empty: every space visible
    exclude_spaces: list[str] = field(default_factory=list)
    exclude_labels: list[str] = field(default_factory=list)  # pages with any of them are skipped
    blogposts: bool = True
    attachments: bool = True
    attachment_max_mb: float = 10.0
    attachment_extensions: list[str] = field(default_factory=lambda: [".pdf", ".docx", ".txt", ".md"])
    # Spaces open to anonymous users: "deny" (indexed for nobody) or "org-members".
    anonymous_access: Literal["deny", "org-members"] = "deny"
    # accountId -> email for users whose email Confluence Cloud hides; users that cannot be
    # mapped get nothing. Inline table and/or a JSON file {"accountId": "email"}.
    user_emails: dict[str, str] = field(default_factory=dict)
    user_emails_file: str = ""
    # The API account's time zone in its Confluence profile: CQL dates are read in it.
    cql_timezone: str = "UTC"
    overlap_minutes: int = 10  # incremental window overlap (CQL has minute granularity)
    page_size: int = 25
    concurrency: int = 4  # parallel requests
    max_retries: int = 5
    timeout_seconds: float = 30.0
