"""What every `lore` command prints with: JSON lines, report details, progress ticks."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

# C0 controls but tab and newline, DEL and C1 controls: what a terminal acts on (ESC and CSI
# sequences, BEL, a carriage return that writes over the line).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def terminal_text(text: str) -> str:
    """Text from a document or a model, safe to print on a terminal: its control characters
    shown as U+FFFD, so that none can retitle the window, rewrite the screen or set the
    clipboard (OSC 52). JSON output needs none of this: json.dumps escapes C0 controls."""
    return _CONTROL.sub("\ufffd", text)


def ticker(bar: Any) -> Any:
    return lambda _source_id: bar.update(1)


def print_repairs(report: Any) -> None:
    if report.orphans_deleted:
        print(f"  repaired: {report.orphans_deleted} documents in the index that the database did not know, deleted")
    if report.missing_reindexed:
        print(f"  repaired: {report.missing_reindexed} documents missing from the index, written again")
