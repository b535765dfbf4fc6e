"""Confluence credentials: basic auth (Cloud; or a Data Center username and password) or a
Data Center personal access token, validated, and never shown by their repr."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, repr=False)
class Credentials:
    """Cloud: ``Credentials.basic(email, api_token)`` (basic auth). Data Center:
    ``Credentials.bearer(personal_access_token)`` (``Authorization: Bearer``), or basic auth with
    a username in ``email`` and a password in ``api_token``. The repr never shows a secret."""

    email: str = ""
    api_token: str = ""
    personal_access_token: str = ""

    def __post_init__(self) -> None:
        basic = bool(self.email) or bool(self.api_token)
        if basic and self.personal_access_token:
            raise ValueError("Credentials take email + api_token or a personal_access_token, not both")
        if basic and not (self.email and self.api_token):
            raise ValueError("basic-auth Credentials need both an email and an api_token")
        if not basic and not self.personal_access_token:
            raise ValueError("Credentials need email + api_token (Cloud) or a personal_access_token")

    @classmethod
    def basic(cls, email: str, api_token: str) -> Credentials:
        return cls(email=email, api_token=api_token)

    @classmethod
    def bearer(cls, personal_access_token: str) -> Credentials:
        return cls(personal_access_token=personal_access_token)

    @property
    def kind(self) -> Literal["basic", "bearer"]:
        return "bearer" if self.personal_access_token else "basic"

    def secret_values(self) -> tuple[str, ...]:
        """Every form in which the secret travels: the token and the basic-auth header value."""
        if self.kind == "bearer":
            return (self.personal_access_token,)
        pair = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode("ascii")
        return (self.api_token, pair)

    def __repr__(self) -> str:
        if self.kind == "bearer":
            return "Credentials(personal_access_token=***)"
        return f"Credentials(email={self.email!r}, api_token=***)"

    __str__ = __repr__
