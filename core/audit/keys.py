"""The audit key: base64 of 32 bytes in the secret store, under ``audit.key_secret``. It keys
question hashes (``audit.question_text = "hash"``) and signs pruning checkpoints."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from core.audit.errors import AuditKeyError
from core.secrets.base import SecretStore, SecretStoreError

KEY_BYTES = 32
GENERATE_KEY = 'python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"'


def load_audit_key(store: SecretStore, name: str, *, why: str) -> bytes:
    """The key, or ``AuditKeyError`` saying where to set it; ``why`` says what needs it."""
    try:
        value = store.get(name)
    except SecretStoreError as exc:
        raise AuditKeyError(f"cannot read the audit key ({why}): {exc}") from None
    if value is None:
        raise AuditKeyError(f"the audit key is not set ({why}): set {store.where(name)} to base64 of "
                            f"32 random bytes, e.g. {GENERATE_KEY}")
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:  # the value itself is never echoed, not even its length
        raise AuditKeyError(f"the audit key in {store.where(name)} is not base64 of 32 bytes "
                            f"(make one with {GENERATE_KEY})")
    return key


def question_hmac(key: bytes, question: str) -> str:
    """Equal questions give equal hashes (they can be counted), yet without the key nobody can
    test a guess of what was asked."""
    return hmac.new(key, question.encode("utf-8"), hashlib.sha256).hexdigest()
