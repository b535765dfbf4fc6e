"""`lore teams-package`: the Teams app package (manifest and icons), checked, as one zip."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.config import Config


def cmd_teams_package(cfg: Config, args: argparse.Namespace) -> int:
    from bot.teams.package import (
        TeamsPackageError,
        build_package,
        default_template_dir,
        write_package,
    )

    template = Path(args.template) if args.template else default_template_dir()
    if template is None:
        raise TeamsPackageError(
            "no manifest/teams folder here: run from a Lore checkout or pass --template DIR "
            "(a folder with manifest.json, color.png and outline.png)"
        )
    package = build_package(template, cfg.teams.app_id, args.domain, args.app_version)
    output = Path(args.output)
    write_package(output, package.data)
    for warning in package.warnings:
        print(f"lore: warning: {warning}", file=sys.stderr)
    print(f"wrote {output} (Teams app {package.manifest['id']}, version {package.manifest['version']}, "
          f"manifest {package.manifest['manifestVersion']})")
    return 0
