"""Serve the Confluence stand-in with a small, realistic demo site.

    python -m tests.fakes.confluence_demo --port 8090

Runs in the foreground on 127.0.0.1 until Ctrl-C or SIGTERM and prints the wiki URL and the API
credentials. Tests reuse the data through :func:`seed_demo`.

The site: users alice, bob and carol (carol's profile hides her email, so a Lore admin has to map
``carol-account`` to carol@example.com by hand); groups ``engineering`` (alice, carol) and ``hr``
(bob); space ``ENG`` readable by engineering (a handbook, a runbook with a table and a code macro,
an incident page restricted to alice with a child page, a page labelled ``archive-me``, a blog
post); space ``HR`` readable by hr (two pages, one with a text attachment); space ``PUB`` readable
anonymously.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from tests.fakes.confluence_stand_in import ConfluenceStandIn

EMAIL = "lore-bot@example.com"
TOKEN = "demo-token"

RUNBOOK = """<h1>On-call runbook</h1>
<p>Who to page and how to restart the ingest workers.</p>
<table><tbody>
<tr><th>Service</th><th>Owner</th><th>Escalation</th></tr>
<tr><td>ingest</td><td>Alice</td><td>#eng-oncall</td></tr>
<tr><td>search</td><td>Carol</td><td>#eng-search</td></tr>
</tbody></table>
<ac:structured-macro ac:name="code" ac:schema-version="1">
<ac:parameter ac:name="language">bash</ac:parameter>
<ac:plain-text-body><![CDATA[kubectl -n ingest rollout restart deployment/ingest-worker
kubectl -n ingest rollout status deployment/ingest-worker]]></ac:plain-text-body>
</ac:structured-macro>"""


def seed_demo(stand_in: ConfluenceStandIn) -> None:
    """Fill ``stand_in`` with the demo site (users, groups, spaces, pages, an attachment)."""
    base = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)

    def at(hours: int) -> datetime:
        return base + timedelta(hours=hours)

    stand_in.add_credentials(EMAIL, TOKEN)
    stand_in.add_user("lore-bot-account", EMAIL, display_name="Lore")
    stand_in.add_user("alice-account", "alice@example.com", display_name="Alice Example")
    stand_in.add_user("bob-account", "bob@example.com", display_name="Bob Example")
    stand_in.add_user("carol-account", "carol@example.com", hidden=True, display_name="Carol")
    stand_in.add_group("engineering", ["alice-account", "carol-account"], group_id="g-engineering")
    stand_in.add_group("hr", ["bob-account"], group_id="g-hr")

    stand_in.add_space("ENG", "Engineering")
    stand_in.set_space_permission("ENG", group="engineering")
    stand_in.add_space("HR", "People Team")
    stand_in.set_space_permission("HR", group="hr")
    stand_in.add_space("PUB", "Public")
    stand_in.set_space_permission("PUB", anonymous=True)

    handbook = stand_in.add_page(
        "ENG",
        "Engineering Handbook",
        "<p>How we build, review and ship software.</p>",
        author="alice-account",
        modified=at(0),
        labels=["handbook"],
    )
    stand_in.add_page(
        "ENG",
        "On-call Runbook",
        RUNBOOK,
        parent_id=handbook.id,
        author="carol-account",
        modified=at(1),
        labels=["oncall", "runbook"],
    )
    incident = stand_in.add_page(
        "ENG",
        "Security Incident 2026-01",
        "<p>Timeline and affected customers. Restricted to the incident lead.</p>",
        parent_id=handbook.id,
        restrictions={"users": ["alice-account"]},
        author="alice-account",
        modified=at(2),
    )
    stand_in.add_page(
        "ENG",
        "Incident Follow-ups",
        "<ul><li>Rotate the leaked API key</li><li>Add alerting on token use</li></ul>",
        parent_id=incident.id,
        author="alice-account",
        modified=at(3),
    )
    stand_in.add_page(
        "ENG",
        "Legacy Deploy Process",
        "<p>Deploys used to go through the Jenkins box. Replaced by Argo CD.</p>",
        parent_id=handbook.id,
        author="carol-account",
        modified=at(4),
        labels=["archive-me"],
    )
    stand_in.add_page(
        "ENG",
        "Platform update: January",
        "<p>Search latency is down 40% after the index migration.</p>",
        type="blogpost",
        author="carol-account",
        modified=at(5),
    )

    stand_in.add_page(
        "HR",
        "Holiday Policy",
        "<p>Everyone gets 28 days of paid holiday plus public holidays.</p>",
        author="bob-account",
        modified=at(6),
        labels=["policy"],
    )
    onboarding = stand_in.add_page(
        "HR",
        "Onboarding Checklist",
        "<p>See the attached checklist for a new starter's first week.</p>",
        author="bob-account",
        modified=at(7),
    )
    stand_in.add_attachment(
        onboarding.id,
        "first-week.txt",
        b"Day 1: laptop and accounts\nDay 2: meet your buddy\nDay 5: team lunch\n",
        "text/plain",
        modified=at(7),
    )

    stand_in.add_page(
        "PUB",
        "Welcome to Northwind",
        "<p>Office addresses and how to reach us.</p>",
        author="bob-account",
        modified=at(8),
    )


async def _serve(port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ConfluenceStandIn.running(port=port) as wiki:
        seed_demo(wiki)
        print(f"Confluence stand-in: {wiki.wiki_url}", flush=True)
        print(f"  email: {EMAIL}  api token: {TOKEN}", flush=True)
        print("  spaces: ENG (engineering), HR (hr), PUB (anonymous); Ctrl-C stops", flush=True)
        await stop.wait()
    print("stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (0: any)")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
