"""The ``aws-secrets-manager`` provider against moto's server on a loopback port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from core.secrets import SecretsConfig, SecretStoreError, SecretStoreUnavailable, open_secret_store
from core.secrets.aws_secrets_manager import AwsSecretsManagerSettings, AwsSecretsManagerStore
from core.secrets.redaction import Redactor
from tests.core.file_writes import file_writes

VALUE = "aws-test-value-9d41be07"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    # The default chain, fed by the environment here (a role in production); no ~/.aws read.
    empty = tmp_path_factory.mktemp("aws-home")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _store(url: str, **settings: object) -> AwsSecretsManagerStore:
    return AwsSecretsManagerStore(
        AwsSecretsManagerSettings(region="eu-west-1", endpoint_url=url, **settings),  # type: ignore[arg-type]
        Redactor(),
    )


def test_create_update_read_and_delete_with_a_recovery_window(moto_url: str) -> None:
    store = _store(moto_url, prefix="lore-a/")
    assert store.get("slack-token") is None
    store.put("slack-token", VALUE)  # create
    store.put("slack-token", VALUE + "-2")  # put_secret_value: a new version
    assert store.get("slack-token") == VALUE + "-2"
    raw = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto_url)
    assert raw.get_secret_value(SecretId="lore-a/slack-token")["SecretString"] == VALUE + "-2"
    store.delete("slack-token")  # scheduled for deletion, 7 days
    assert raw.describe_secret(SecretId="lore-a/slack-token").get("DeletedDate") is not None
    assert store.get("slack-token") is None
    store.put("slack-token", VALUE)  # restored, then written
    assert store.get("slack-token") == VALUE
    assert store.redactor.redact(f"[{VALUE}]") == "[[REDACTED]]"


def test_recovery_window_zero_deletes_at_once(moto_url: str) -> None:
    store = _store(moto_url, prefix="lore-b/", recovery_window_days=0)
    store.put("gone", VALUE)
    store.delete("gone")
    raw = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto_url)
    with pytest.raises(raw.exceptions.ResourceNotFoundException):
        raw.describe_secret(SecretId="lore-b/gone")
    store.delete("gone")  # a missing secret is not an error
    store.put("gone", VALUE)
    assert store.get("gone") == VALUE


def test_settings_and_names_are_checked() -> None:
    with pytest.raises(SecretStoreError, match="recovery_window_days must be 0 or 7-30, got 3"):
        _store("http://127.0.0.1:9", recovery_window_days=3)
    with pytest.raises(SecretStoreError, match="prefix: use letters, digits and /_"):
        _store("http://127.0.0.1:9", prefix="lore secrets/")
    store = _store("http://127.0.0.1:9", prefix="p" * 400 + "/")
    with pytest.raises(SecretStoreError, match="not a valid AWS secret name"):
        store.get("a" * 120)


def test_unreachable_endpoint_fails_closed_through_the_cache() -> None:
    settings = AwsSecretsManagerSettings(region="eu-west-1", endpoint_url=f"http://127.0.0.1:{_free_port()}",
                                         timeout_seconds=1)
    store = open_secret_store(SecretsConfig(provider="aws-secrets-manager"), mode="production",
                              settings=settings)
    with pytest.raises(SecretStoreUnavailable, match="aws-secrets-manager secret store cannot be reached"):
        store.get("anything")
    assert store.health().startswith("error: the aws-secrets-manager secret store")


def test_nothing_is_written_to_disk(moto_url: str) -> None:
    with file_writes() as written:
        store = open_secret_store(SecretsConfig(provider="aws-secrets-manager"), mode="production",
                                  settings=AwsSecretsManagerSettings(region="eu-west-1", endpoint_url=moto_url,
                                                                     prefix="lore-disk/"))
        store.put("no-disk", VALUE)
        assert store.get("no-disk") == VALUE
        store.delete("no-disk")
    assert written == []


def test_workspace_tokens_go_to_the_vault_and_leave_it_on_uninstall(moto_url: str) -> None:
    from core.tokens import TokenSlot, TokenVault

    store = open_secret_store(SecretsConfig(provider="aws-secrets-manager"), mode="production",
                              settings=AwsSecretsManagerSettings(region="eu-west-1", endpoint_url=moto_url,
                                                                 prefix="lore-tokens/", recovery_window_days=0))
    tokens = TokenVault(store)
    slot = TokenSlot("slack-bot-token", ("", "T0123ABC"))
    ref = tokens.seal("xoxb-" + VALUE, slot)
    assert ref == "secret:slack-bot-token-none-t0123abc" and tokens.mode == "secret-store"
    raw = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto_url)
    assert raw.get_secret_value(SecretId="lore-tokens/slack-bot-token-none-t0123abc")["SecretString"] == "xoxb-" + VALUE
    assert tokens.open(ref, slot) == "xoxb-" + VALUE
    tokens.discard(ref)  # the workspace uninstalled the app
    with pytest.raises(raw.exceptions.ResourceNotFoundException):
        raw.describe_secret(SecretId="lore-tokens/slack-bot-token-none-t0123abc")
