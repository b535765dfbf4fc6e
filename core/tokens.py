"""Tokens that Lore receives at run time (Slack workspace tokens from OAuth installs) never sit in
the database in plain text. The database keeps a *reference*, one of:

``secret:<name>``
    the token lives in the secret store under a name derived from its slot (a store that
    ``can_store``: Key Vault, Vault, AWS); the database holds only the name.
``enc:v1:<key id>:<base64url(nonce || ciphertext+tag)>``
    AES-256-GCM with a random 96-bit nonce; the associated data is the slot (kind and owning
    ids), so a ciphertext copied into another row, or from a bot token into a refresh token
    column, does not decrypt. The key is a secret (``slack-token-key`` by default: base64 of 32
    random bytes); the key id (a hash of the key, not the key) names which key sealed a value,
    so that after a rotation rows sealed with the previous key (``<key secret>-previous``) stay
    readable until they are rewritten.

Plain values pass through the store's ``Redactor`` (sealing or opening registers them), and no
error message or repr of this module contains a token or a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import CoreError
from core.secrets.base import SecretStore, validate_secret_name

SECRET_PREFIX = "secret:"
ENCRYPTED_PREFIX = "enc:v1:"
DEFAULT_KEY_SECRET = "slack-token-key"
NONCE_BYTES = 12
KEY_BYTES = 32
GENERATE_KEY = (
    'python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"'
)

_ID_PART = re.compile(r"[A-Z0-9]{1,24}")  # Slack ids; lowercasing them stays one-to-one
_KEY_ID = re.compile(r"[0-9a-f]{8}")


class TokenVaultError(CoreError):
    """A token could not be sealed or opened. The message never contains a token or a key."""


class TokenKeyError(TokenVaultError):
    """The encryption key secret is missing or malformed."""


class TokenDecryptionError(TokenVaultError):
    """A stored token reference is corrupt, was altered, belongs to another row, or was sealed
    with a key that is no longer configured."""


@dataclass(frozen=True)
class TokenSlot:
    """Where a token belongs. ``kind`` says what it is (``slack-bot-token``); ``owner`` is the
    identity of the row holding it (``(enterprise_id or "", team_id or "")``, plus a user id for
    user tokens). The slot names the token's secret in store mode and is the associated data of
    its ciphertext in encrypted mode."""

    kind: str
    owner: tuple[str, ...]

    def associated_data(self) -> bytes:
        return json.dumps(["lore-token-v1", self.kind, *self.owner]).encode("utf-8")

    def secret_name(self) -> str:
        """``slack-bot-token-e0123-t0456``; an empty id reads ``none``. Ids that are not short
        upper-case alphanumerics (never the case for Slack ids) are replaced by a hash, and so is the whole
        name if it would exceed the 127 characters every vault accepts."""
        parts = [self.kind]
        for value in self.owner:
            if not value:
                parts.append("none")
            elif _ID_PART.fullmatch(value):
                parts.append(value.lower())
            else:
                parts.append("h" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:16])
        name = "-".join(parts)
        if len(name) > 127:
            digest = hashlib.sha256(self.associated_data()).hexdigest()[:32]
            name = f"{self.kind[:80]}-h{digest}"
        return validate_secret_name(name)

    def describe(self) -> str:
        """For error messages: ids are not secret."""
        owner = "/".join(o or "-" for o in self.owner)
        return f"{self.kind} of {owner}"


def key_id(key: bytes) -> str:
    """A short public name for a key: it identifies, it does not reveal (a truncated hash of
    a 256-bit random key)."""
    return hashlib.sha256(b"lore-token-key-id\x00" + key).hexdigest()[:8]


@dataclass(frozen=True)
class _Key:
    id: str
    secret_name: str
    aead: AESGCM

    def __repr__(self) -> str:
        return f"<token key {self.id} from {self.secret_name!r}>"


class TokenVault:
    """Seals tokens into database references and opens them again.

    Store mode (``store.can_store``) writes each token to the secret store under its slot's
    name; otherwise tokens are encrypted with the key in secret ``key_secret``. Opening follows
    the reference's own form, so rows written before a change of secret store stay readable.
    Calls may block on the secret store (network): call from a worker thread in async code.
    """

    def __init__(
        self,
        store: SecretStore,
        *,
        key_secret: str = DEFAULT_KEY_SECRET,
        previous_key_secret: str | None = None,
    ) -> None:
        self._store = store
        self._key_secret = validate_secret_name(key_secret)
        self._previous_key_secret = validate_secret_name(
            previous_key_secret if previous_key_secret is not None else f"{key_secret}-previous"
        )
        self._lock = threading.Lock()
        self._keys: list[_Key] | None = None  # current first, then the previous key if set

    @property
    def mode(self) -> str:
        return "secret-store" if self._store.can_store else "encrypted"

    def seal(self, value: str, slot: TokenSlot) -> str:
        """The database reference for ``value`` in ``slot``."""
        if not value:
            raise TokenVaultError(f"refusing to store an empty {slot.describe()}")
        self._store.redactor.register(value, name=slot.kind)
        if self._store.can_store:
            name = slot.secret_name()
            self._store.put(name, value)
            return SECRET_PREFIX + name
        key = self._loaded_keys(reload=False)[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, value.encode("utf-8"), slot.associated_data())
        blob = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{ENCRYPTED_PREFIX}{key.id}:{blob}"

    def open(self, ref: str, slot: TokenSlot) -> str:
        """The token behind a reference made by ``seal`` for the same ``slot``."""
        if ref.startswith(SECRET_PREFIX):
            return self._open_secret(ref[len(SECRET_PREFIX):], slot)
        if ref.startswith(ENCRYPTED_PREFIX):
            return self._decrypt(ref[len(ENCRYPTED_PREFIX):], slot)
        raise TokenDecryptionError(
            f"stored {slot.describe()} is not a token reference this version can read"
        )

    def discard(self, ref: str) -> None:
        """Forget a token that is being deleted from the database. An encrypted one goes with its
        row; a stored one is deleted from the secret store (``SecretStoreError`` from a store
        that cannot delete: the secret then stays, unreachable from the database, until a vault
        policy or an admin removes it)."""
        if ref.startswith(SECRET_PREFIX):
            self._store.delete(validate_secret_name(ref[len(SECRET_PREFIX):]))

    def is_current(self, ref: str) -> bool:
        """Whether ``ref`` is in the form ``seal`` would write now (same mode, current key):
        a caller may re-seal the others to finish a key rotation."""
        if self._store.can_store:
            return ref.startswith(SECRET_PREFIX)
        if not ref.startswith(ENCRYPTED_PREFIX):
            return False
        return ref[len(ENCRYPTED_PREFIX):].split(":", 1)[0] == self._loaded_keys(False)[0].id

    # -- internals ----------------------------------------------------------------------------

    def _open_secret(self, name: str, slot: TokenSlot) -> str:
        try:
            validate_secret_name(name)
        except ValueError:
            raise TokenDecryptionError(
                f"stored {slot.describe()} names no valid secret"
            ) from None
        value = self._store.get(name)  # the store registers it with the redactor
        if value is None:
            raise TokenVaultError(
                f"{slot.describe()} should be in secret {name!r}, which is not set in the "
                f"{self._store.name} secret store: reinstall the app to the workspace"
            )
        return value

    def _decrypt(self, body: str, slot: TokenSlot) -> str:
        kid, _, blob = body.partition(":")
        if not _KEY_ID.fullmatch(kid) or not blob:
            raise TokenDecryptionError(f"stored {slot.describe()} is malformed")
        try:
            raw = base64.urlsafe_b64decode(blob.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise TokenDecryptionError(f"stored {slot.describe()} is malformed") from None
        if len(raw) < NONCE_BYTES + 16:
            raise TokenDecryptionError(f"stored {slot.describe()} is malformed")
        key = self._key_by_id(kid)
        if key is None:
            raise TokenDecryptionError(
                f"stored {slot.describe()} was encrypted with key {kid}, which is neither secret "
                f"{self._key_secret!r} nor {self._previous_key_secret!r}: restore that key as "
                f"{self._previous_key_secret!r}, or reinstall the app to the workspace"
            )
        try:
            plain = key.aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], slot.associated_data())
        except InvalidTag:
            raise TokenDecryptionError(
                f"stored {slot.describe()} failed authentication: it was altered or belongs to "
                f"another row"
            ) from None
        value = plain.decode("utf-8")
        self._store.redactor.register(value, name=slot.kind)
        return value

    def _key_by_id(self, kid: str) -> _Key | None:
        for reload in (False, True):  # a key rotated in the vault after we loaded ours
            for key in self._loaded_keys(reload):
                if key.id == kid:
                    return key
        return None

    def _loaded_keys(self, reload: bool) -> list[_Key]:
        with self._lock:
            if self._keys is None or reload:
                current = self._read_key(self._key_secret)
                if current is None:
                    raise TokenKeyError(self._missing_key_message())
                keys = [current]
                previous = self._read_key(self._previous_key_secret)
                if previous is not None and previous.id != current.id:
                    keys.append(previous)
                self._keys = keys
            return self._keys

    def _read_key(self, name: str) -> _Key | None:
        encoded = self._store.get(name)  # registered with the redactor by the store
        if encoded is None:
            return None
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != KEY_BYTES:
            raise TokenKeyError(
                f"secret {name!r} must be the base64 encoding of {KEY_BYTES} random bytes; "
                f"generate one with: {GENERATE_KEY}"
            )
        return _Key(key_id(raw), name, AESGCM(raw))

    def _missing_key_message(self) -> str:
        return (
            f"secret {self._key_secret!r} is not set ({self._store.where(self._key_secret)}): "
            f"the {self._store.name} store cannot hold workspace tokens, so they are "
            f"encrypted with this key before they are written to the database. Generate a key "
            f"with: {GENERATE_KEY} and store it as secret {self._key_secret!r}"
        )

    def __repr__(self) -> str:
        return f"<TokenVault mode={self.mode} key_secret={self._key_secret!r}>"
