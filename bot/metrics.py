"""Prometheus metrics of one server process (one registry per app: no global state)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.questions = Counter(
            "lore_questions", "Questions by platform and outcome", ["platform", "outcome"], registry=self.registry
        )
        self.stage_seconds = Histogram(
            "lore_stage_seconds", "Latency per stage of answering", ["stage"], buckets=_STAGE_BUCKETS, registry=self.registry
        )
        self.provider_errors = Counter(
            "lore_provider_errors", "Answer provider failures", ["provider"], registry=self.registry
        )
        self.fallbacks = Counter(
            "lore_fallbacks", "Answers produced by the extractive fallback after an LLM failure", registry=self.registry
        )
        self.rate_limited = Counter("lore_rate_limited", "Questions refused by the rate limit", registry=self.registry)
        self.dedupe_fallbacks = Counter(
            "lore_dedupe_fallbacks", "Events de-duplicated by the database because Redis did not answer",
            registry=self.registry,
        )
        self.dedupe_errors = Counter(
            "lore_dedupe_errors", "Events handled without a de-duplication check (no store answered)",
            registry=self.registry,
        )
        self.feedback = Counter(
            "lore_feedback", "Helpful / not helpful clicks on answers", ["platform", "helpful"], registry=self.registry
        )
        self.audit_failures = Counter(
            "lore_audit_failures", "Audit events that could not be stored, by kind", ["kind"],
            registry=self.registry,
        )

        self.sync_runs = Counter(
            "lore_sync_runs", "Sync job runs on this replica by connector, job and final status",
            ["connector", "kind", "status"], registry=self.registry,
        )
        self.sync_documents = Counter(
            "lore_sync_documents", "Documents handled by sync runs on this replica, by outcome",
            ["connector", "outcome"], registry=self.registry,
        )
        self.sync_last_success = Gauge(
            "lore_sync_last_success_timestamp_seconds", "When a sync job last succeeded on this replica",
            ["connector", "kind"], registry=self.registry,
        )

    def sync_finished(self, connector: str, kind: str, status: str, counts: dict[str, int], when: float) -> None:
        self.sync_runs.labels(connector=connector, kind=kind, status=status).inc()
        for outcome in ("indexed", "acl_updated", "owner_updated", "deleted", "skipped", "failed"):
            if counts.get(outcome):
                self.sync_documents.labels(connector=connector, outcome=outcome).inc(counts[outcome])
        if status in ("succeeded", "partial"):
            self.sync_last_success.labels(connector=connector, kind=kind).set(when)

    def track_rate_limit_store_errors(self, read: Callable[[], int]) -> None:
        """Failures of the shared rate-limit store (Redis); the limiter then works per replica."""
        gauge = Gauge(
            "lore_ratelimit_store_errors", "Rate-limit store failures since start", registry=self.registry
        )
        gauge.set_function(lambda: float(read()))

    def track_thread_store_errors(self, read: Callable[[], int]) -> None:
        """Failures of the shared thread memory (Redis); this replica's memory then stands in."""
        gauge = Gauge(
            "lore_thread_store_errors", "Thread-memory store failures since start", registry=self.registry
        )
        gauge.set_function(lambda: float(read()))

    def observe(self, stage: str, seconds: float) -> None:
        self.stage_seconds.labels(stage=stage).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
