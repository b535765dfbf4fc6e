from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from core.config import ConfigError, SecretsConfig
from core.secrets import (
    PROVIDERS,
    REDACTED,
    EnvSecretStore,
    InvalidSecretName,
    Redactor,
    SecretNotFound,
    SecretStore,
    SecretStoreError,
    open_secret_store,
    redact_patterns,
    require_secret,
    validate_secret_name,
)
from core.secrets.env import env_var_name

GROQ = "gsk_q8Lk2Vn1PzR7tY4wX0aB5cD9eF3gH6jK"


@pytest.mark.parametrize("name", ["groq-api-key", "a", "slack-bot-token-2", "x" * 127, "9lives"])
def test_valid_names(name: str) -> None:
    assert validate_secret_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Groq-Api-Key",
        "groq_api_key",
        "-groq",
        "groq-",
        "groq api key",
        "x" * 128,
        "groq.key",
        "ключ",
    ],
)
def test_invalid_names_are_rejected_clearly(name: str) -> None:
    with pytest.raises(InvalidSecretName, match="lowercase letters, digits and dashes"):
        validate_secret_name(name)
    with pytest.raises(InvalidSecretName):
        EnvSecretStore({}).get(name)


def test_long_invalid_name_is_not_echoed() -> None:
    # A value passed by mistake where a name belongs must not land in an error message.
    with pytest.raises(InvalidSecretName) as info:
        validate_secret_name(GROQ)
    assert GROQ not in str(info.value)


def test_env_var_name() -> None:
    assert env_var_name("groq-api-key") == "LORE_SECRET_GROQ_API_KEY"


def test_env_store_reads_the_given_mapping() -> None:
    env = {
        "LORE_SECRET_GROQ_API_KEY": GROQ,
        "LORE_SECRET_EMPTY": "",
        "LORE_SECRET_PADDED": " abcdefgh\n",
    }
    store = EnvSecretStore(env)
    assert store.name == "env"
    assert store.can_store is False
    assert store.get("groq-api-key") == GROQ
    assert store.get("missing") is None
    assert store.get("empty") is None  # an empty variable means "not set"
    assert store.get("padded") == "abcdefgh"
    env["LORE_SECRET_LATER"] = "set-after-opening"
    assert store.get("later") == "set-after-opening"


def test_env_store_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORE_SECRET_FROM_OS", "value-from-os")
    assert EnvSecretStore().get("from-os") == "value-from-os"


def test_values_handed_out_are_registered_for_redaction() -> None:
    redactor = Redactor()
    store = EnvSecretStore({"LORE_SECRET_DB_PASSWORD": "correct horse battery"}, redactor=redactor)
    assert redactor.redact("pw is correct horse battery!") == "pw is correct horse battery!"
    assert store.get("db-password") == "correct horse battery"
    assert store.redactor is redactor
    assert redactor.redact("pw is correct horse battery!") == f"pw is {REDACTED}!"
    assert store.get("missing") is None and len(redactor) > 0


def test_put_is_refused_without_the_value() -> None:
    store = EnvSecretStore({})
    with pytest.raises(SecretStoreError, match="read-only") as info:
        store.put("groq-api-key", GROQ)
    assert GROQ not in str(info.value)
    assert "LORE_SECRET_GROQ_API_KEY" in str(info.value)


def test_delete_is_declared_and_refused_by_default() -> None:
    store = EnvSecretStore({"LORE_SECRET_GROQ_API_KEY": GROQ})
    with pytest.raises(SecretStoreError, match="the env secret store cannot delete secrets"):
        store.delete("groq-api-key")  # the SecretStore protocol's default


def test_repr_never_shows_values() -> None:
    store = EnvSecretStore({"LORE_SECRET_GROQ_API_KEY": GROQ})
    store.get("groq-api-key")
    assert GROQ not in repr(store) and GROQ not in repr(store.redactor)


def test_require_secret() -> None:
    store = EnvSecretStore({"LORE_SECRET_TOKEN": "abcdefgh"})
    assert require_secret(store, "token") == "abcdefgh"
    with pytest.raises(
        SecretNotFound, match="'slack-bot-token' is not set: set the environment variable LORE_SECRET_SLACK_BOT_TOKEN"
    ):
        require_secret(store, "slack-bot-token")
    assert issubclass(SecretNotFound, SecretStoreError)


def test_open_env_store_in_development_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="lore.secrets"):
        store = open_secret_store(SecretsConfig(provider="env"), mode="development", env={})
    assert isinstance(store, EnvSecretStore)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("mode", ["production", "staging", ""])
def test_open_env_store_outside_development_warns_once(
    caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    env = {"LORE_SECRET_GROQ_API_KEY": GROQ}
    with caplog.at_level(logging.DEBUG, logger="lore.secrets"):
        store = open_secret_store(SecretsConfig(), mode=mode, env=env)
        store.get("groq-api-key")
        store.get("groq-api-key")
    warnings = [
        r for r in caplog.records if r.name == "lore.secrets" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert "development only" in warnings[0].getMessage()
    assert GROQ not in caplog.text


def test_open_shares_the_given_redactor() -> None:
    redactor = Redactor()
    store: SecretStore = open_secret_store(
        SecretsConfig(), mode="development", env={"LORE_SECRET_K": "k-value-123"}, redactor=redactor
    )
    store.get("k")
    assert redactor.redact("k-value-123") == REDACTED


@pytest.mark.parametrize("provider", ["azure", "hashicorp", ""])
def test_unknown_provider_names_the_allowed_ones(provider: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_secret_store(SecretsConfig(provider=provider), mode="production", env={})
    assert str(info.value) == (
        "secrets.provider: expected one of env, azure-key-vault, vault, aws-secrets-manager, "
        f"got {provider!r}"
    )


def test_providers_table() -> None:
    assert list(PROVIDERS) == ["env", "azure-key-vault", "vault", "aws-secrets-manager"]
    store = open_secret_store(SecretsConfig(provider=" ENV "), mode="development", env={})
    assert isinstance(store, EnvSecretStore)  # not cached: it reads the live environment
    assert store.health() == "ok"  # the contract's default


# -- Redactor -----------------------------------------------------------------------------------


def test_redactor_replaces_encoded_forms_and_longest_first() -> None:
    secret = "p@ss/word:with'quote\"and\\back"
    redactor = Redactor([secret, "inner-secret", "xx-inner-secret-yy"])
    text = (
        f"raw {secret}, url p%40ss%2Fword%3Awith%27quote%22and%5Cback, repr {[secret]}, "
        f"json {json.dumps(secret)} and xx-inner-secret-yy"
    )
    out = redactor.redact(text)
    assert "p@ss" not in out and "p%40ss" not in out and "inner-secret" not in out
    assert out.endswith(f"and {REDACTED}")


def test_short_values_are_not_registered_but_warned(caplog: pytest.LogCaptureFixture) -> None:
    redactor = Redactor()
    with caplog.at_level(logging.WARNING, logger="lore.secrets"):
        redactor.register("abc", name="tiny-pin")
    assert redactor.redact("abc abcdef") == "abc abcdef"
    assert "'tiny-pin' is shorter than" in caplog.text and "abc " not in caplog.text


@pytest.mark.parametrize(
    "text, secret",
    [
        ("token xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "xoxb-1234567890"),
        ("user token=xoxp-11-22-33-abcdef", "xoxp-11"),
        ("app xapp-1-A0123-456-abcdef0123", "xapp-1"),
        ("refresh xoxe.xoxp-1-Mi0yLTEyMzQ1", "Mi0yLTEyMzQ1"),
        ("rotating xoxe-1-My0xLTIzNDU2", "My0xLTIzNDU2"),
        (f"groq {GROQ}", GROQ),
        ("openai sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123", "AbCdEfGhIjKlMnOp"),
        ("openai sk-AbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGhIjKlMnOp"),
        ("Authorization: Bearer abc.def-ghi_jkl", "abc.def-ghi_jkl"),
        ("headers={'Authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ("sent bearer AbCdEfGhIjKl0123 to the API", "AbCdEfGhIjKl0123"),
        ("postgresql+psycopg://lore:s3cr3t-pw@db.internal:5432/lore", "s3cr3t-pw"),
        ("redis://:r3d1s-pass@cache:6379/0", "r3d1s-pass"),
        (
            "jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz",
            "eyJzdWIiOiJhbGljZSJ9",
        ),
        ('{"client_secret": "Zq8~abc.def", "password": "hunter2hunter2"}', "hunter2hunter2"),
        ("login password=hunter2hunter2&next=/", "hunter2hunter2"),
        ("aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
            "MIIEow",
        ),
    ],
)
def test_well_known_credentials_are_redacted_unregistered(text: str, secret: str) -> None:
    out = redact_patterns(text)
    assert secret not in out, out
    assert REDACTED in out
    assert Redactor().redact(text) == out


def test_redaction_keeps_context() -> None:
    assert (
        redact_patterns("postgresql://lore:pw12345@db/lore")
        == f"postgresql://lore:{REDACTED}@db/lore"
    )
    assert redact_patterns("Authorization: Bearer abcdefgh") == f"Authorization: Bearer {REDACTED}"


@pytest.mark.parametrize(
    "text",
    [
        "task-manager-for-everything-you-do",
        "https://wiki.example.com:8443/display/ENG/VPN",
        "max_tokens=600 temperature=0.1",
        "the secret store is env; secret 'groq-api-key' is not set",
        "mailto:alice@example.com",
        "user:alice@example.com group:aad:1234",
        "xoxb- tokens start with xoxb-",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_patterns(text) == text


def test_provider_settings_tables_from_the_file_and_the_environment(tmp_path: Path) -> None:
    from core.config import Plugins, load_config
    from core.secrets import provider_settings
    from core.secrets.aws_secrets_manager import AwsSecretsManagerSettings
    from core.secrets.hashicorp_vault import VaultSettings

    f = tmp_path / "lore.toml"
    f.write_text('[secrets]\nprovider = "vault"\ncache_seconds = 60\n'
                 '[secrets.vault]\nurl = "https://vault:8200"\nauth = "approle"\n')
    plugins = Plugins(sources={}, index_backends={"lance": SecretsConfig}, secret_providers=provider_settings())
    cfg = load_config(f, {"LORE_SECRETS_VAULT_ROLE_ID": "role-1",
                          "LORE_SECRETS_AWS_SECRETS_MANAGER_RECOVERY_WINDOW_DAYS": "0"}, plugins=plugins)
    assert cfg.secrets.provider == "vault" and cfg.secrets.cache_seconds == 60
    assert cfg.secret_providers["vault"] == VaultSettings(url="https://vault:8200", auth="approle", role_id="role-1")
    assert cfg.secret_providers["aws-secrets-manager"] == AwsSecretsManagerSettings(recovery_window_days=0)
    with pytest.raises(ConfigError, match=r"LORE_SECRETS_VAULT_ROLEID in the environment; did you mean "
                                          r"LORE_SECRETS_VAULT_ROLE_ID\?"):
        load_config(f, {"LORE_SECRETS_VAULT_ROLEID": "x"}, plugins=plugins)
    f.write_text('[secrets.vault]\nauth = "ldap"\n')
    with pytest.raises(ConfigError, match=r"secrets.vault.auth: expected one of token, approle, kubernetes"):
        load_config(f, {}, plugins=plugins)
