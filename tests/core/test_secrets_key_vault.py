"""The ``azure-key-vault`` provider through the real Azure SDK, against the Key Vault stand-in
(challenge authentication, tokens from the Entra stand-in) behind a loopback CONNECT proxy."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.secrets import SecretsConfig, SecretStoreError, SecretStoreUnavailable, open_secret_store
from core.secrets.azure_key_vault import AzureKeyVaultSettings, AzureKeyVaultStore
from core.secrets.redaction import Redactor
from tests.core.file_writes import file_writes
from tests.fakes.entra import EntraStandIn, make_certificate
from tests.fakes.key_vault import KeyVaultStandIn, VaultProxy
from tests.fakes.managed_identity import ManagedIdentityEndpoint
from tests.fakes.token_review import ISSUER, TokenReviewStandIn

TENANT = "5d3e8b1c-0a4f-4c1e-9a57-2b7f0c9e1d11"
APP = "c2b7a0d4-6e1f-4f3a-8c2d-1e9b7a5f3c20"
APP_SECRET = "kv-test-app-secret-4be1d9"
VALUE = "kv-test-value-ab81c3f2"


@dataclass
class Vault:
    entra: EntraStandIn
    kv: KeyVaultStandIn
    proxy: VaultProxy
    secret_file: Path

    def settings(self, **overrides: object) -> AzureKeyVaultSettings:
        values: dict[str, object] = {
            "vault_url": self.kv.vault_url, "credential": "client-secret", "tenant_id": TENANT,
            "client_id": APP, "client_secret_file": str(self.secret_file),
            "authority_host": self.entra.base_url, "ca_file": self.kv.ca_file, "timeout_seconds": 2,
        }
        values.update(overrides)
        return AzureKeyVaultSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def vault(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Vault]:
    with EntraStandIn() as entra:
        entra.register_app(TENANT, APP, secret=APP_SECRET)
        with KeyVaultStandIn(entra, TENANT) as kv:
            kv.grant(APP)
            proxy = VaultProxy(kv.port)
            # The SDK reaches https://lore-test.vault.azure.net through the proxy (see
            # tests.fakes.key_vault for why); the Entra stand-in on 127.0.0.1 directly.
            monkeypatch.setenv("HTTPS_PROXY", proxy.url)
            monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
            for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "http_proxy", "https_proxy", "no_proxy"):
                monkeypatch.delenv(name, raising=False)
            secret_file = tmp_path / "client-secret"
            secret_file.write_text(APP_SECRET + "\n")
            try:
                yield Vault(entra, kv, proxy, secret_file)
            finally:
                proxy.close()


def test_challenge_then_token_then_get_set_delete(vault: Vault) -> None:
    store = AzureKeyVaultStore(vault.settings(), Redactor())
    assert store.get("slack-bot-token") is None
    # The first request went out without a token and got the challenge; the retry carried one.
    assert vault.kv.requests[0] == ("GET", "/secrets/slack-bot-token/", False)
    assert vault.kv.requests[1] == ("GET", "/secrets/slack-bot-token/", True)
    assert [t.scope for t in vault.entra.tokens_for(TENANT)] == ["https://vault.azure.net/.default"]
    assert vault.proxy.connects[0] == "lore-test.vault.azure.net:443"
    store.put("slack-bot-token", VALUE)
    assert vault.kv.value("slack-bot-token") == VALUE
    assert store.get("slack-bot-token") == VALUE
    assert store.redactor.redact(VALUE) == "[REDACTED]"
    store.delete("slack-bot-token")  # deleted, then purged: the name is free again
    assert not vault.kv.exists("slack-bot-token")
    store.put("slack-bot-token", VALUE + "-2")
    assert store.get("slack-bot-token") == VALUE + "-2"


def test_purge_protection_leaves_it_soft_deleted_and_a_put_recovers(vault: Vault,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    vault.kv.purge_protection = True
    store = AzureKeyVaultStore(vault.settings(), Redactor())
    store.put("teams-token", VALUE)
    with caplog.at_level(logging.WARNING, logger="lore.secrets"):
        store.delete("teams-token")
    assert vault.kv.is_soft_deleted("teams-token") and store.get("teams-token") is None
    assert "deleted but not purged" in caplog.text
    store.put("teams-token", VALUE + "-new")  # 409 -> recover -> set
    assert store.get("teams-token") == VALUE + "-new" and not vault.kv.is_soft_deleted("teams-token")
    assert VALUE not in caplog.text


def test_missing_permission_is_named(vault: Vault) -> None:
    vault.kv.grant(APP, {"get"})
    store = AzureKeyVaultStore(vault.settings(), Redactor())
    with pytest.raises(SecretStoreError) as info:
        store.put("denied", VALUE)
    assert "HTTP 403" in str(info.value) and "Set and Recover (role 'Key Vault Secrets Officer')" in str(info.value)
    assert VALUE not in str(info.value)


def test_throttling_and_an_outage_through_the_cache(vault: Vault) -> None:
    now = [0.0]
    failures: list[tuple[str, str, str]] = []
    store = open_secret_store(SecretsConfig(provider="azure-key-vault", cache_seconds=60), mode="production",
                              settings=vault.settings(), clock=lambda: now[0],
                              on_failure=lambda *event: failures.append(event))
    AzureKeyVaultStore(vault.settings(), Redactor()).put("groq-api-key", VALUE)
    assert store.get("groq-api-key") == VALUE
    vault.kv.throttle(1)
    now[0] = 31  # refresh-ahead hits the 429: the cached value serves
    assert store.get("groq-api-key") == VALUE
    assert failures == [("groq-api-key", "get", "SecretStoreUnavailable")]
    assert store.health().startswith("degraded:")
    vault.proxy.cut()  # the vault is unreachable
    now[0] = 40
    assert store.get("groq-api-key") == VALUE
    now[0] = 62
    with pytest.raises(SecretStoreUnavailable) as info:
        store.get("groq-api-key")
    assert "azure-key-vault secret store cannot be reached" in str(info.value)
    assert store.health().startswith("error:")
    vault.proxy.cut(False)  # back: recovery without a restart
    now[0] = 200
    assert store.health() == "ok"
    assert store.get("groq-api-key") == VALUE


def test_certificate_credential(vault: Vault, tmp_path: Path) -> None:
    key_pem, cert_pem = make_certificate()
    vault.entra.register_app(TENANT, APP, certificate_pem=cert_pem)
    pem = tmp_path / "app.pem"
    pem.write_text(cert_pem + key_pem)
    store = AzureKeyVaultStore(vault.settings(credential="certificate", certificate_path=str(pem)), Redactor())
    store.put("cert-auth", VALUE)
    assert store.get("cert-auth") == VALUE


def test_settings_are_checked(vault: Vault) -> None:
    with pytest.raises(SecretStoreError, match="vault_url must be the vault's https URL"):
        AzureKeyVaultStore(AzureKeyVaultSettings(vault_url="http://x"), Redactor())
    with pytest.raises(SecretStoreError, match="needs tenant_id and client_id"):
        AzureKeyVaultStore(vault.settings(tenant_id=""), Redactor())
    with pytest.raises(SecretStoreError, match="client_secret_file: cannot read"):
        AzureKeyVaultStore(vault.settings(client_secret_file="/nonexistent/secret"), Redactor())


def test_nothing_is_written_to_disk(vault: Vault) -> None:
    with file_writes() as written:
        store = open_secret_store(SecretsConfig(provider="azure-key-vault"), mode="production",
                                  settings=vault.settings())
        store.put("no-disk", VALUE)
        assert store.get("no-disk") == VALUE
        store.delete("no-disk")
        vault.proxy.cut()
        with pytest.raises(SecretStoreUnavailable):
            store.get("no-disk-other")
    assert written == []
    with file_writes() as written:  # the watcher itself works
        (vault.secret_file.parent / "probe").write_text("x")
    assert written == [str(vault.secret_file.parent / "probe")]


def test_managed_identity_needs_no_credential_anywhere(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    identity = "0f6c2e7a-3b1d-4e59-a8c4-7d2e9b1f6a30"
    vault.kv.grant(identity, {"get"})
    AzureKeyVaultStore(vault.settings(), Redactor()).put("mi-secret", VALUE)
    with ManagedIdentityEndpoint(vault.entra, TENANT, identity) as endpoint:
        # What App Service / Container Apps set in the process (an endpoint, not a credential).
        monkeypatch.setenv("IDENTITY_ENDPOINT", endpoint.url)
        monkeypatch.setenv("IDENTITY_HEADER", endpoint.header)
        settings = AzureKeyVaultSettings(vault_url=vault.kv.vault_url, ca_file=vault.kv.ca_file)
        assert settings.credential == "managed-identity"
        store = AzureKeyVaultStore(settings, Redactor())
        assert store.get("mi-secret") == VALUE
        assert endpoint.requests[-1]["resource"] == "https://vault.azure.net"
        with pytest.raises(SecretStoreError, match=r"needs the secret permission Set and Recover"):
            store.put("mi-secret", VALUE + "-2")  # this identity may only read


def test_workload_identity_exchanges_the_service_account_token(vault: Vault, tmp_path: Path) -> None:
    kube = TokenReviewStandIn()  # only its token issuer: no server needed here
    subject = "system:serviceaccount:lore-ns:lore"
    vault.entra.register_federated_credential(TENANT, APP, issuer=ISSUER, subject=subject,
                                              public_key_pem=kube.public_key_pem())
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(kube.issue("lore-ns", "lore", audience="api://AzureADTokenExchange"))
    settings = vault.settings(credential="workload-identity", client_secret_file="",
                              federated_token_file=str(token_file))
    store = AzureKeyVaultStore(settings, Redactor())
    store.put("wi-secret", VALUE)
    assert store.get("wi-secret") == VALUE
    # Another service account's token is no federated credential of the app.
    token_file.write_text(kube.issue("lore-ns", "intruder", audience="api://AzureADTokenExchange"))
    with pytest.raises(SecretStoreError, match="signing in with the workload-identity credential failed: .*AADSTS70021"):
        AzureKeyVaultStore(settings, Redactor()).get("wi-secret")
