"""The ``vault`` provider against a real OpenBao server (dev mode, loopback; the session fixture
``bao`` of tests/fakes/openbao.py)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hvac
import pytest

from core.secrets import SecretsConfig, SecretStoreError, SecretStoreUnavailable, open_secret_store
from core.secrets.hashicorp_vault import VaultSecretStore, VaultSettings
from core.secrets.redaction import Redactor
from tests.core.file_writes import file_writes
from tests.fakes.openbao import Bao, free_port
from tests.fakes.token_review import TokenReviewStandIn

VALUE = "vault-test-value-38c1d0e7"


def _store(bao: Bao, **settings: object) -> VaultSecretStore:
    return VaultSecretStore(VaultSettings(url=bao.url, **settings), Redactor())  # type: ignore[arg-type]


def test_token_file_auth_reads_writes_rotates_and_deletes(bao: Bao) -> None:
    store = _store(bao, auth="token", token_file=bao.token_file(["lore"]))
    assert store.get("vault-roundtrip") is None
    store.put("vault-roundtrip", VALUE)
    assert store.get("vault-roundtrip") == VALUE
    assert bao.root.secrets.kv.v2.read_secret_version(path="lore/vault-roundtrip", mount_point="secret",
                                                      raise_on_deleted_version=True)["data"]["data"] == {"value": VALUE}
    store.put("vault-roundtrip", VALUE + "-2")  # a new version
    assert store.get("vault-roundtrip") == VALUE + "-2"
    assert store.redactor.redact(VALUE + "-2") == "[REDACTED]"
    store.delete("vault-roundtrip")
    assert store.get("vault-roundtrip") is None
    with pytest.raises(hvac.exceptions.InvalidPath):  # every version and the metadata are gone
        bao.root.secrets.kv.v2.read_secret_metadata(path="lore/vault-roundtrip", mount_point="secret")
    store.put("vault-roundtrip", VALUE)  # the name is reusable
    assert store.get("vault-roundtrip") == VALUE
    store.delete("vault-roundtrip")
    store.delete("vault-roundtrip")  # deleting a missing secret is not an error


def test_a_denied_write_names_the_capability(bao: Bao) -> None:
    store = _store(bao, auth="token", token_file=bao.token_file(["lore-read"]))
    with pytest.raises(SecretStoreError) as info:
        store.put("vault-denied", VALUE)
    assert type(info.value) is SecretStoreError
    assert "needs the 'create' capability on secret/data/lore/*" in str(info.value)
    assert VALUE not in str(info.value)


def test_approle_login_renewal_and_relogin_at_max_ttl(bao: Bao) -> None:
    bao.root.auth.approle.create_or_update_approle("lore-short", token_policies=["lore"],
                                                   token_ttl="2s", token_max_ttl="3s")
    role_id = bao.root.auth.approle.read_role_id("lore-short")["data"]["role_id"]
    secret_id = bao.root.auth.approle.generate_secret_id("lore-short")["data"]["secret_id"]
    secret_file = bao.home / "secret-id"
    secret_file.write_text(secret_id)
    store = _store(bao, auth="approle", role_id=role_id, secret_id_file=str(secret_file))
    store.put("vault-approle", VALUE)
    first = store._client.token
    # Reads every 0.7 s for 4.2 s: renewals until the 3 s max TTL, then a fresh login (the
    # renewal that cannot extend, or the refused one, tells), and never a failed read.
    for _ in range(6):
        time.sleep(0.7)
        assert store.get("vault-approle") == VALUE
    assert store._client.token != first
    with pytest.raises(hvac.exceptions.Forbidden):  # the first token really is dead
        bao.root.auth.token.lookup(first)


def test_renewal_keeps_a_token_alive_past_its_first_ttl(bao: Bao) -> None:
    bao.root.auth.approle.create_or_update_approle("lore-renew", token_policies=["lore"],
                                                   token_ttl="2s", token_max_ttl="60s")
    role_id = bao.root.auth.approle.read_role_id("lore-renew")["data"]["role_id"]
    secret_file = bao.home / "secret-id-renew"
    secret_file.write_text(bao.root.auth.approle.generate_secret_id("lore-renew")["data"]["secret_id"])
    store = _store(bao, auth="approle", role_id=role_id, secret_id_file=str(secret_file))
    store.put("vault-renew", VALUE)
    token = store._client.token
    for _ in range(2):
        time.sleep(1.5)
        assert store.get("vault-renew") == VALUE
    # 3 s after login the token still works: renewals, not the re-login fallback, kept it.
    assert store._client.token == token
    assert bao.root.auth.token.lookup(token)["data"]["ttl"] > 0


def test_vault_down_and_back_through_the_cache(bao: Bao, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens here: a vault that is down
    token_file = bao.token_file(["lore"])
    _store(bao, auth="token", token_file=token_file).put("vault-outage", VALUE)
    now = [0.0]
    down = VaultSettings(url=f"http://127.0.0.1:{port}", auth="token", token_file=token_file,
                         timeout_seconds=1)
    failures: list[tuple[str, str, str]] = []
    store = open_secret_store(SecretsConfig(provider="vault", cache_seconds=60), mode="production",
                              settings=down, clock=lambda: now[0],
                              on_failure=lambda *event: failures.append(event))
    with caplog.at_level(logging.DEBUG), pytest.raises(SecretStoreUnavailable) as info:
        store.get("vault-outage")
    assert failures == [("vault-outage", "get", "SecretStoreUnavailable")]
    assert "cannot be reached" in str(info.value) and store.health().startswith("error:")
    assert VALUE not in caplog.text


def test_unset_settings_are_clear_errors(bao: Bao, tmp_path: Path) -> None:
    with pytest.raises(SecretStoreError, match=r"secrets.vault.url is not set"):
        VaultSecretStore(VaultSettings(), Redactor())
    store = _store(bao, auth="token", token_file=str(tmp_path / "absent"))
    with pytest.raises(SecretStoreError, match=r"secrets.vault.token_file: cannot read .*absent"):
        store.get("anything")


def test_nothing_is_written_to_disk(bao: Bao) -> None:
    token_file = bao.token_file(["lore"])
    with file_writes() as written:
        store = open_secret_store(SecretsConfig(provider="vault"), mode="production",
                                  settings=VaultSettings(url=bao.url, auth="token", token_file=token_file))
        store.put("vault-no-disk", VALUE)
        assert store.get("vault-no-disk") == VALUE
        store.delete("vault-no-disk")
    assert written == []


def test_kubernetes_auth_validated_by_token_review(bao: Bao, tmp_path: Path) -> None:
    with TokenReviewStandIn() as kube:
        bao.root.sys.enable_auth_method("kubernetes", path="kubernetes")
        try:
            bao.root.write("auth/kubernetes/config", kubernetes_host=kube.url, kubernetes_ca_cert=kube.ca_pem,
                           token_reviewer_jwt=kube.reviewer_token, disable_local_ca_jwt=True)
            bao.root.write("auth/kubernetes/role/lore", bound_service_account_names=["lore"],
                           bound_service_account_namespaces=["lore-ns"], token_policies=["lore"],
                           token_ttl="60s")
            token_file = tmp_path / "sa-token"
            token_file.write_text(kube.issue("lore-ns", "lore"))
            store = _store(bao, auth="kubernetes", kubernetes_role="lore", kubernetes_token_file=str(token_file))
            store.put("vault-k8s", VALUE)
            assert store.get("vault-k8s") == VALUE
            assert kube.reviews == ["lore-ns:lore"]  # OpenBao asked the API server
            # Another service account is not bound to the role; a revoked token is refused.
            token_file.write_text(kube.issue("lore-ns", "intruder"))
            with pytest.raises(SecretStoreError, match=r"the vault refused Lore.s kubernetes login \(role .lore.\) \(Forbidden\)"):
                _store(bao, auth="kubernetes", kubernetes_role="lore",
                       kubernetes_token_file=str(token_file)).get("vault-k8s")
            revoked = kube.issue("lore-ns", "lore")
            kube.revoke(revoked)
            token_file.write_text(revoked)
            with pytest.raises(SecretStoreError):
                _store(bao, auth="kubernetes", kubernetes_role="lore",
                       kubernetes_token_file=str(token_file)).get("vault-k8s")
        finally:
            bao.root.sys.disable_auth_method("kubernetes")


def test_a_rotated_value_is_used_after_half_the_cache_age(bao: Bao, caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    settings = VaultSettings(url=bao.url, auth="token", token_file=bao.token_file(["lore"]))
    store = open_secret_store(SecretsConfig(provider="vault", cache_seconds=300), mode="production",
                              settings=settings, clock=lambda: now[0])
    store.put("vault-rotated", VALUE)
    with caplog.at_level(logging.DEBUG):
        assert store.get("vault-rotated") == VALUE
        bao.root.secrets.kv.v2.create_or_update_secret(path="lore/vault-rotated", secret={"value": VALUE + "-new"},
                                                       mount_point="secret")  # rotated by an operator
        now[0] = 149
        assert store.get("vault-rotated") == VALUE  # still the cached one
        now[0] = 151
        assert store.get("vault-rotated") == VALUE + "-new"
    assert VALUE not in caplog.text and VALUE not in repr(store)
