"""The SharePoint connector's settings and credentials: clear one-line errors, no secret shown."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.registry import SOURCES
from connectors.sharepoint.connector import SharePointConnector
from connectors.sharepoint.credentials import AppTokens, TokenError
from connectors.sharepoint.settings import SharePointConnectorConfig
from core.config import ConfigError
from core.secrets import SecretNotFound
from tests.fakes.memory_secrets import MemorySecretStore

SECRET_VALUE = "very-secret-client-value-123"


def build(secrets: MemorySecretStore, **settings: Any) -> SharePointConnector:
    values: dict[str, Any] = {"type": "sharepoint", "host": "contoso.sharepoint.com", "tenant_id": "t", "client_id": "c"}
    values.update(settings)
    return SharePointConnector.from_config("sp", SharePointConnectorConfig(**values), secrets)


def test_sharepoint_is_a_registered_source_type() -> None:
    assert SOURCES["sharepoint"].settings is SharePointConnectorConfig


@pytest.mark.parametrize(("settings", "fragment"), [
    ({"host": "https://contoso.sharepoint.com/"}, "connectors.sp.host must be the SharePoint host"),
    ({"client_id": ""}, "client_id are required"),
    ({"sites": ["https://fabrikam.sharepoint.com/sites/x"]}, "is not on contoso.sharepoint.com"),
    ({"anonymous_link_readers": ["everyone"]}, "connectors.sp.anonymous_link_readers"),
    ({"max_file_mb": 0}, "must be positive"),
    ({"client_secret_secret": "sp-secret"}, "site_pages needs a certificate"),
])
def test_bad_settings_fail_with_one_clear_line(settings: dict[str, Any], fragment: str) -> None:
    secrets = MemorySecretStore()
    secrets.put("sp-secret", SECRET_VALUE)
    with pytest.raises(ConfigError) as caught:
        build(secrets, **settings)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_secret_is_named() -> None:
    with pytest.raises(SecretNotFound, match="sharepoint-certificate"):
        build(MemorySecretStore())


def test_a_pem_without_a_key_is_refused_without_showing_it() -> None:
    with pytest.raises(TokenError) as caught:
        AppTokens(tenant_id="t", client_id="c", credential=f"-----BEGIN CERTIFICATE-----\n{SECRET_VALUE}\n-----END CERTIFICATE-----",
                  certificate=True, secret_name="sharepoint-certificate")
    assert "sharepoint-certificate" in str(caught.value) and SECRET_VALUE not in str(caught.value)


def test_reprs_show_no_secret() -> None:
    secrets = MemorySecretStore()
    secrets.put("sp-secret", SECRET_VALUE)
    connector = build(secrets, client_secret_secret="sp-secret", site_pages=False)
    try:
        assert SECRET_VALUE not in repr(connector.client) + repr(connector.access._client)
        tokens = AppTokens(tenant_id="t", client_id="c", credential=SECRET_VALUE, certificate=False, secret_name="sp-secret")
        assert SECRET_VALUE not in repr(tokens)
    finally:
        connector.close()
