"""Workspace tokens at rest: secret-store references or AES-GCM bound to their row."""

from __future__ import annotations

import base64
import os

import pytest

from core.secrets import EnvSecretStore, Redactor, SecretStoreError
from core.tokens import (
    GENERATE_KEY,
    TokenDecryptionError,
    TokenKeyError,
    TokenSlot,
    TokenVault,
    TokenVaultError,
)
from tests.fakes.memory_secrets import MemorySecretStore

TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
SLOT = TokenSlot("slack-bot-token", ("E0123", "T0456"))


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _env(**secrets: str) -> dict[str, str]:
    return {"LORE_SECRET_" + k.upper().replace("-", "_"): v for k, v in secrets.items()}


@pytest.fixture
def key() -> str:
    return _key()


@pytest.fixture
def vault(key: str) -> TokenVault:
    return TokenVault(EnvSecretStore(_env(slack_token_key=key)))


def _flip(ref: str, index: int) -> str:
    prefix, blob = ref.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(blob))
    raw[index] ^= 0x01
    return f"{prefix}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"


def test_encrypted_round_trip(vault: TokenVault) -> None:
    ref = vault.seal(TOKEN, SLOT)
    assert ref.startswith("enc:v1:")
    assert TOKEN not in ref and "xoxb" not in ref
    assert vault.open(ref, SLOT) == TOKEN
    assert vault.seal(TOKEN, SLOT) != ref  # random nonce: equal tokens do not look equal
    assert vault.mode == "encrypted" and vault.is_current(ref)


@pytest.mark.parametrize("index", [0, 11, 12, 20, -1])  # nonce, ciphertext, tag
def test_tampering_is_detected(vault: TokenVault, index: int) -> None:
    ref = vault.seal(TOKEN, SLOT)
    with pytest.raises(TokenDecryptionError, match="failed authentication") as info:
        vault.open(_flip(ref, index), SLOT)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize("ref", ["enc:v1:zz:abc", "enc:v1:0123abcd:!!!", "enc:v1:0123abcd:AAAA",
                                 "xoxb-plain-token-in-db", ""])
def test_malformed_references(vault: TokenVault, ref: str) -> None:
    with pytest.raises(TokenDecryptionError) as info:
        vault.open(ref, SLOT)
    assert "xoxb" not in str(info.value)


@pytest.mark.parametrize("other", [
    TokenSlot("slack-bot-token", ("E0123", "T9999")),  # another workspace's row
    TokenSlot("slack-bot-token", ("", "T0456")),  # same team, other org
    TokenSlot("slack-bot-refresh-token", ("E0123", "T0456")),  # another column of the same row
])
def test_ciphertext_cannot_move_to_another_row(vault: TokenVault, other: TokenSlot) -> None:
    ref = vault.seal(TOKEN, SLOT)
    with pytest.raises(TokenDecryptionError, match="altered or belongs to another row"):
        vault.open(ref, other)


def test_missing_key_error_names_the_secret_and_how_to_make_one() -> None:
    env = _env(groq_api_key="gsk_should_never_show_up_anywhere")
    vault = TokenVault(EnvSecretStore(env))
    with pytest.raises(TokenKeyError) as info:
        vault.seal(TOKEN, SLOT)
    message = str(info.value)
    assert "'slack-token-key'" in message and "LORE_SECRET_SLACK_TOKEN_KEY" in message
    assert GENERATE_KEY in message
    assert TOKEN not in message and "gsk_" not in message


def test_custom_key_secret_name() -> None:
    vault = TokenVault(EnvSecretStore({}), key_secret="lore-slack-key")
    with pytest.raises(TokenKeyError, match="'lore-slack-key'"):
        vault.seal(TOKEN, SLOT)


@pytest.mark.parametrize("bad", ["not base64 at all", base64.b64encode(b"short").decode(),
                                 base64.b64encode(os.urandom(16)).decode()])
def test_malformed_key_is_a_clear_error_without_the_value(bad: str) -> None:
    vault = TokenVault(EnvSecretStore(_env(slack_token_key=bad)))
    with pytest.raises(TokenKeyError, match="'slack-token-key' must be the base64") as info:
        vault.seal(TOKEN, SLOT)
    assert bad not in str(info.value)


def test_key_rotation_keeps_old_rows_readable() -> None:
    old, new = _key(), _key()
    env = _env(slack_token_key=old)
    old_ref = TokenVault(EnvSecretStore(env)).seal(TOKEN, SLOT)

    rotated = _env(slack_token_key=new, slack_token_key_previous=old)
    vault = TokenVault(EnvSecretStore(rotated))
    assert vault.open(old_ref, SLOT) == TOKEN
    assert not vault.is_current(old_ref)
    new_ref = vault.seal(TOKEN, SLOT)
    assert vault.is_current(new_ref) and new_ref.split(":")[2] != old_ref.split(":")[2]
    assert vault.open(new_ref, SLOT) == TOKEN

    # Once the previous key is gone, the old row says which key it needs.
    forgotten = TokenVault(EnvSecretStore(_env(slack_token_key=new)))
    assert forgotten.open(new_ref, SLOT) == TOKEN
    with pytest.raises(TokenDecryptionError, match="slack-token-key-previous") as info:
        forgotten.open(old_ref, SLOT)
    assert old not in str(info.value) and new not in str(info.value)


def test_a_replica_picks_up_a_key_rotated_after_it_started() -> None:
    old, new = _key(), _key()
    env = _env(slack_token_key=old)
    running = TokenVault(EnvSecretStore(env))
    running.seal(TOKEN, SLOT)  # loads (and caches) the old key
    env.update(_env(slack_token_key=new, slack_token_key_previous=old))
    ref = TokenVault(EnvSecretStore(dict(env))).seal(TOKEN, SLOT)  # another replica, new key
    assert running.open(ref, SLOT) == TOKEN


def test_values_are_registered_for_redaction(key: str) -> None:
    redactor = Redactor()
    store = EnvSecretStore(_env(slack_token_key=key), redactor=redactor)
    vault = TokenVault(store)
    ref = vault.seal(TOKEN, SLOT)
    assert redactor.redact(f"token {TOKEN} key {key}") == "token [REDACTED] key [REDACTED]"
    fresh = Redactor()
    TokenVault(EnvSecretStore(_env(slack_token_key=key), redactor=fresh)).open(ref, SLOT)
    assert TOKEN not in fresh.redact(TOKEN)
    assert TOKEN not in repr(vault) and key not in repr(vault)


def test_secret_store_mode_keeps_only_the_name() -> None:
    store = MemorySecretStore()
    vault = TokenVault(store)  # no key needed in this mode
    ref = vault.seal(TOKEN, SLOT)
    assert ref == "secret:slack-bot-token-e0123-t0456"
    assert store.values["slack-bot-token-e0123-t0456"] == TOKEN
    assert vault.open(ref, SLOT) == TOKEN
    assert vault.mode == "secret-store" and vault.is_current(ref)
    assert TOKEN not in store.redactor.redact(TOKEN)
    vault.discard(ref)
    assert store.values == {}
    with pytest.raises(TokenVaultError, match="'slack-bot-token-e0123-t0456', which is not set") as info:
        vault.open(ref, SLOT)
    assert "xoxb" not in str(info.value)


def test_secret_names() -> None:
    assert TokenSlot("slack-bot-token", ("", "T1")).secret_name() == "slack-bot-token-none-t1"
    assert TokenSlot("slack-bot-token", ("E1", "")).secret_name() == "slack-bot-token-e1-none"
    odd = TokenSlot("slack-user-token", ("e1", "T/../x", "U1")).secret_name()
    assert odd.startswith("slack-user-token-h") and "/" not in odd
    assert len(TokenSlot("k", tuple("X" * 30 for _ in range(10))).secret_name()) <= 127


def test_rows_sealed_before_moving_to_a_vault_stay_readable(key: str) -> None:
    """Encrypted rows (env store) remain readable after the deployment switches to a vault,
    as long as the key is copied there."""
    ref = TokenVault(EnvSecretStore(_env(slack_token_key=key))).seal(TOKEN, SLOT)
    store = MemorySecretStore()
    store.values["slack-token-key"] = key
    assert TokenVault(store).open(ref, SLOT) == TOKEN


def test_empty_token_is_refused(vault: TokenVault) -> None:
    with pytest.raises(TokenVaultError):
        vault.seal("", SLOT)


def test_read_only_store_never_receives_tokens(key: str) -> None:
    class ReadOnly(MemorySecretStore):
        can_store = False

        def put(self, name: str, value: str) -> None:
            raise SecretStoreError("read-only")

    store = ReadOnly()
    store.values["slack-token-key"] = key
    assert TokenVault(store).seal(TOKEN, SLOT).startswith("enc:v1:")
    assert list(store.values) == ["slack-token-key"]
