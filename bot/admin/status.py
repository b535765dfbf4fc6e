"""``!status``: what `lore status` and `lore sync status` show, compact enough for a chat."""

from __future__ import annotations

from typing import Any

MAX_ERROR_CHARS = 200


def _run(last: dict[str, Any] | None) -> str:
    if last is None:
        return "never ran"
    when = last.get("finished_at") or f"{last.get('started_at')} (still running)"
    line = f"{last['status']} at {when}"
    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in (last.get("counts") or {}).items() if n)
    line += f" ({counts or 'no changes'})"
    errors = last.get("error_count") or 0
    if errors:
        first = str((last.get("errors") or [""])[0])[:MAX_ERROR_CHARS]
        line += f"; {errors} errors, first: {first}"
    return line


def render_compact(status: dict[str, Any], connectors: list[dict[str, Any]]) -> str:
    """``bot.status.collect_status`` and ``collect_sync_status`` as a short Markdown message."""
    index = status["index"]
    size = f"{index['chunks']} chunks ({index['backend']}), {status['documents']} documents"
    lines = [f"**Index**: {size}, {status['groups']} groups with members"]
    consistency = status["consistency"]
    lines.append("**Index and database**: in step" if consistency["ok"]
                 else f"**Index and database**: DEGRADED: {consistency['message']}")
    server = status.get("server") or {}
    if server.get("running"):
        lines.append(f"**Server**: {'ready' if server.get('ready') else 'NOT READY'}")
        lines.extend(f"- {check}: {result}" for check, result in (server.get("checks") or {}).items()
                     if result != "ok")
    if connectors:
        lines.append("**Connectors**")
        for entry in connectors:
            flags = "" if entry["enabled"] else " (not scheduled)"
            flags += f", running on {entry['running_on']}" if entry.get("running_on") else ""
            lines.append(f"- `{entry['connector']}`{flags}")
            for kind, job in entry["jobs"].items():
                lines.append(f"  - {kind}: last {_run(job['last_run'])}; next {job['next_run'] or '-'}")
    others = [s for s in status["sources"] if s["source"] not in {c["source"] for c in connectors}]
    if others:
        lines.append("**Other sources** (`lore ingest`)")
        for src in others:
            last = src["last_run"]
            run = "" if last is None else f"; last {last['status']}" + (f", {last['errors']} errors" if last["errors"] else "")
            lines.append(f"- `{src['source']}`: {src['documents']} documents{run}")
    if not connectors and not status["sources"]:
        lines.append("No sources yet.")
    return "\n".join(lines)
