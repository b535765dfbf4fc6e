"""Recording answer feedback (helpful / not helpful) from any surface."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.metrics import Metrics
from core.db import Database
from core.db.tables import AnswerFeedback


class FeedbackRecorder:
    def __init__(self, db: Database, metrics: Metrics) -> None:
        self.db = db
        self.metrics = metrics

    def _insert(self, row: AnswerFeedback) -> None:
        with self.db.session() as s:
            s.add(row)

    async def record(self, *, platform: str, workspace: str, user_id: str, answer_ref: str, helpful: bool) -> None:
        row = AnswerFeedback(platform=platform, workspace=workspace, user_id=user_id,
                             answer_ref=answer_ref[:512], helpful=helpful, created_at=datetime.now(UTC))
        await asyncio.to_thread(self._insert, row)
        self.metrics.feedback.labels(platform=platform, helpful=str(helpful).lower()).inc()
