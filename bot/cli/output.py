"""What every `lore` command prints with: JSON lines, report details, progress ticks."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def ticker(bar: Any) -> Any:
    return lambda _source_id: bar.update(1)


def print_repairs(report: Any) -> None:
    if report.orphans_deleted:
        print(f"  repaired: {report.orphans_deleted} documents in the index that the database did not know, deleted")
    if report.missing_reindexed:
        print(f"  repaired: {report.missing_reindexed} documents missing from the index, written again")
