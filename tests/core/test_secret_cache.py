"""The cache in front of the vaults (core.secrets.cache), with an injectable clock."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from core.secrets import SecretStoreError, SecretStoreUnavailable
from core.secrets.cache import BACKOFF_MAX, REFUSED_SECONDS, CachedSecretStore
from tests.fakes.memory_secrets import MemorySecretStore

VALUE = "cache-test-value-7f3a91"
ROTATED = "cache-test-rotated-c02e55"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FlakyVault(MemorySecretStore):
    """A vault that can be "down" (SecretStoreUnavailable) or deny access; counts its reads."""

    name = "flaky"

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.denied = False
        self.reads = 0
        self.delay = 0.0

    def get(self, name: str) -> str | None:
        self.reads += 1
        time.sleep(self.delay)
        if self.down:
            raise SecretStoreUnavailable("the flaky vault cannot be reached (ConnectionError)")
        if self.denied:
            raise SecretStoreError("the flaky vault denied access: needs 'read'")
        return super().get(name)

    def put(self, name: str, value: str) -> None:
        if self.down:
            raise SecretStoreUnavailable("the flaky vault cannot be reached (ConnectionError)")
        super().put(name, value)


def _store(ttl: float = 300.0) -> tuple[CachedSecretStore, FlakyVault, Clock, list[tuple[str, str, str]]]:
    vault, clock, failures = FlakyVault(), Clock(), []
    store = CachedSecretStore(vault, cache_seconds=ttl, clock=clock,
                              on_failure=lambda *event: failures.append(event))
    return store, vault, clock, failures


def test_values_and_not_set_are_cached_then_refreshed_after_half_the_age() -> None:
    store, vault, clock, _ = _store()
    vault.values["token"] = VALUE
    assert store.get("token") == VALUE and store.get("missing") is None
    assert vault.reads == 2
    clock.now += 149
    assert store.get("token") == VALUE and store.get("missing") is None and vault.reads == 2
    vault.values["token"] = ROTATED  # rotated in the vault
    vault.values["missing"] = VALUE
    clock.now += 2  # past half of cache_seconds: the next read asks the vault
    assert store.get("token") == ROTATED and store.get("missing") == VALUE
    assert vault.reads == 4 and store.health() == "ok"


def test_vault_down_serves_cached_values_until_cache_seconds_then_fails_closed() -> None:
    store, vault, clock, failures = _store()
    vault.values["token"] = VALUE
    assert store.get("token") == VALUE
    vault.down = True
    clock.now += 200
    assert store.get("token") == VALUE  # refresh failed; still young enough
    assert failures == [("token", "get", "SecretStoreUnavailable")]
    assert store.health().startswith("degraded: the flaky secret store has been unreachable for 0 s")
    clock.now += 101  # 301 s after the last successful read
    with pytest.raises(SecretStoreUnavailable) as info:
        store.get("token")
    assert str(info.value) == (
        "secret 'token' is unavailable: the flaky secret store cannot be reached and no value "
        "read in the last 300 s (secrets.cache_seconds) is cached"
    )
    assert store.health().startswith("error: the flaky secret store has been unreachable")
    assert "reads of token fail closed" in store.health()
    # A never-cached name fails closed too (never None: "not set" would make callers fall back).
    with pytest.raises(SecretStoreUnavailable):
        store.get("other")


def test_backoff_then_recovery_without_a_restart() -> None:
    store, vault, clock, failures = _store()
    vault.down = True
    with pytest.raises(SecretStoreUnavailable):
        store.get("token")
    reads = vault.reads
    for _ in range(50):  # within the backoff: no request reaches the vault
        with pytest.raises(SecretStoreUnavailable):
            store.get("token")
    assert vault.reads == reads and len(failures) == 1
    clock.now += 1.5
    with pytest.raises(SecretStoreUnavailable):
        store.get("token")
    assert vault.reads == reads + 1
    # the backoff doubles, up to its maximum
    for _ in range(10):
        clock.now += BACKOFF_MAX
        with pytest.raises(SecretStoreUnavailable):
            store.get("token")
    vault.down = False
    vault.values["token"] = VALUE
    clock.now += BACKOFF_MAX
    assert store.health() == "ok"  # the health probe itself found the vault back
    assert store.get("token") == VALUE


def test_health_probe_recovers_a_replica_that_gets_no_traffic() -> None:
    store, vault, clock, _ = _store(ttl=10)
    vault.values["token"] = VALUE
    store.get("token")
    vault.down = True
    clock.now += 11
    with pytest.raises(SecretStoreUnavailable):
        store.get("token")
    assert store.health().endswith("reads of token fail closed")
    vault.down = False
    clock.now += 2
    assert store.health() == "ok"
    assert store.get("token") == VALUE


def test_health_says_error_when_nothing_cached_is_left() -> None:
    store, vault, clock, _ = _store(ttl=10)
    vault.values["a"] = vault.values["b"] = VALUE
    store.get("a")
    clock.now += 4
    store.get("b")
    vault.down = True
    clock.now += 5  # refresh of b fails: a expired unread, b still serves
    assert store.get("b") == VALUE
    assert store.health().startswith("degraded:")
    clock.now += 6  # b expired too, without a read
    assert store.health().endswith("no cached value is left")


def test_a_denied_refresh_serves_the_cached_value_and_is_not_retried_at_once() -> None:
    store, vault, clock, failures = _store()
    vault.values["token"] = VALUE
    store.get("token")
    vault.denied = True
    clock.now += 200
    assert store.get("token") == VALUE and store.get("token") == VALUE
    assert vault.reads == 2 and failures == [("token", "get", "SecretStoreError")]


def test_a_denied_read_is_not_an_outage() -> None:
    store, vault, clock, failures = _store()
    vault.values["token"] = VALUE
    vault.denied = True
    with pytest.raises(SecretStoreError, match="needs 'read'") as info:
        store.get("token")
    assert type(info.value) is SecretStoreError
    assert failures == [("token", "get", "SecretStoreError")] and store.health() == "ok"
    reads = vault.reads
    with pytest.raises(SecretStoreError, match="needs 'read'"):  # answered from memory a while
        store.get("token")
    assert vault.reads == reads
    vault.denied = False  # access granted: seen once the refusal is older than REFUSED_SECONDS
    clock.now += REFUSED_SECONDS
    assert store.get("token") == VALUE and vault.reads == reads + 1


def test_put_and_delete_update_the_cache() -> None:
    store, vault, _clock, failures = _store()
    store.put("token", VALUE)
    reads = vault.reads
    assert store.get("token") == VALUE and vault.reads == reads
    assert store.redactor.redact(f"x {VALUE} y") == "x [REDACTED] y"
    store.delete("token")
    assert store.get("token") is None and vault.reads == reads and "token" not in vault.values
    vault.down = True
    with pytest.raises(SecretStoreUnavailable):
        store.put("token", ROTATED)
    assert failures == [("token", "put", "SecretStoreUnavailable")]


def test_concurrent_readers_do_not_stampede() -> None:
    store, vault, clock, _ = _store()
    vault.values["token"] = VALUE
    vault.delay = 0.2
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(store.get("token"))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [VALUE] * 20 and vault.reads == 1
    clock.now += 200  # refresh-ahead: one reader refreshes, the others get the cached value
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: results.append(store.get("token"))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert vault.reads == 2 and results.count(VALUE) == 40
    assert time.monotonic() - started < 1.0


def test_failure_callback_errors_and_logs_hold_no_value(caplog: pytest.LogCaptureFixture) -> None:
    vault, clock = FlakyVault(), Clock()

    def broken(*event: str) -> None:
        raise RuntimeError("audit sink down")

    store = CachedSecretStore(vault, cache_seconds=60, clock=clock, on_failure=broken)
    vault.values["token"] = VALUE
    with caplog.at_level(logging.DEBUG, logger="lore.secrets"):
        store.get("token")
        vault.down = True
        clock.now += 61
        with pytest.raises(SecretStoreUnavailable) as info:
            store.get("token")
    assert VALUE not in str(info.value) and VALUE not in repr(store) and VALUE not in caplog.text
    assert "the secret-failure callback failed" in caplog.text


def test_cache_seconds_must_be_positive() -> None:
    with pytest.raises(SecretStoreError, match="secrets.cache_seconds must be positive"):
        CachedSecretStore(FlakyVault(), cache_seconds=0)
