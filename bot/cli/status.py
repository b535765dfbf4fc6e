"""`lore status`: the index, the database and the last runs per source."""

from __future__ import annotations

import argparse

from bot.cli.output import print_json
from core.config import Config


def cmd_status(cfg: Config, args: argparse.Namespace) -> int:
    from bot.status import collect_status, render_status

    status = collect_status(cfg)
    if args.json:
        print_json(status)
        return 0
    for line in render_status(status):
        print(line)
    return 0


