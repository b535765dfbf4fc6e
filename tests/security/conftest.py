"""Security regression tests: each file pins one item of a hardening issue.

The servers under test are the real ones (``bot.server.create_app``) over the indexed sample
handbook, so the fixtures of the server tests are shared here.
"""

from __future__ import annotations

from tests.bot.conftest import handbook_data

__all__ = ["handbook_data"]
