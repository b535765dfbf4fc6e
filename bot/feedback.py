"""Recording answer feedback (helpful / not helpful) from any surface."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.audit import Auditor
from bot.metrics import Metrics
from core.audit.events import AuditEvent
from core.db import Database
from core.db.tables import AnswerFeedback


class FeedbackRecorder:
    def __init__(self, db: Database, metrics: Metrics, audit: Auditor | None = None) -> None:
        self.db = db
        self.metrics = metrics
        self.audit = audit

    def _insert(self, row: AnswerFeedback) -> None:
        with self.db.session() as s:
            s.add(row)

    async def record(self, *, platform: str, workspace: str, user_id: str, answer_ref: str, helpful: bool) -> None:
        row = AnswerFeedback(platform=platform, workspace=workspace, user_id=user_id,
                             answer_ref=answer_ref[:512], helpful=helpful, created_at=datetime.now(UTC))
        await asyncio.to_thread(self._insert, row)
        self.metrics.feedback.labels(platform=platform, helpful=str(helpful).lower()).inc()
        if self.audit is not None:
            await self.audit.record(AuditEvent("feedback", actor=f"{platform}:{workspace}:{user_id}", platform=platform,
                                               details={"answer_ref": answer_ref[:512], "helpful": helpful}))
