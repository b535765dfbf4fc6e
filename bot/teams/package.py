"""The Teams app package: manifest.json, color.png and outline.png at the root of one zip.

The manifest template (manifest/teams/manifest.json) is filled in with `teams.app_id` (the
Teams app id, the bot id and `webApplicationInfo.id` are all the bot's Microsoft Entra
application id), then the manifest and both icons are checked; nothing is written unless all of
it passes, and every problem is reported at once.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import BotError
from bot.teams.manifest import (
    COLOR_ICON,
    OUTLINE_ICON,
    SEMVER,
    domain_problem,
    fill_template,
    is_guid,
    manifest_problems,
    with_valid_domains,
)
from bot.teams.png import PngError, read_png

MANIFEST = "manifest.json"
COLOR_SIZE, OUTLINE_SIZE = 192, 32
# A fixed timestamp, so that the same inputs always give the same package bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Values of the shipped template a tenant admin is meant to replace.
PLACEHOLDERS = {
    "developer.name": "Your organisation",
    "developer.websiteUrl": "https://lore.example.com/",
    "developer.privacyUrl": "https://lore.example.com/privacy",
    "developer.termsOfUseUrl": "https://lore.example.com/terms",
}


class TeamsPackageError(BotError):
    """The Teams app package cannot be built: a missing or bad app id, template or icon."""


@dataclass
class Package:
    manifest: dict[str, Any]
    data: bytes
    warnings: list[str] = field(default_factory=list)


def default_template_dir() -> Path | None:
    """manifest/teams of the source tree Lore runs from, else of the working directory."""
    for candidate in (Path(__file__).resolve().parents[2] / "manifest" / "teams",
                      Path.cwd() / "manifest" / "teams"):
        if (candidate / MANIFEST).is_file():
            return candidate
    return None


def check_app_id(app_id: str) -> str:
    app_id = app_id.strip()
    if not app_id:
        raise TeamsPackageError(
            "teams.app_id is not set: set it (or LORE_TEAMS_APP_ID) to the bot's Microsoft Entra "
            "application (client) id, a GUID such as 00000000-0000-0000-0000-000000000000"
        )
    if not is_guid(app_id):
        raise TeamsPackageError(
            f"teams.app_id {app_id!r} is not a GUID: use the Application (client) ID of the bot's "
            "app registration in Microsoft Entra (a GUID such as 00000000-0000-0000-0000-000000000000)"
        )
    return app_id


def icon_problems(color: bytes, outline: bytes) -> list[str]:
    """What keeps these from being Teams app icons: a 192x192 colour icon that fills its whole
    square, and a 32x32 outline icon that is white on a transparent background."""
    problems = []
    try:
        png = read_png(color)
        if (png.width, png.height) != (COLOR_SIZE, COLOR_SIZE):
            problems.append(f"{COLOR_ICON}: is {png.width}x{png.height}, must be {COLOR_SIZE}x{COLOR_SIZE}")
        elif png.has_alpha and any(a != 255 for *_rgb, a in png.pixels()):
            problems.append(f"{COLOR_ICON}: has transparent pixels; the colour icon must fill its whole square")
    except PngError as exc:
        problems.append(f"{COLOR_ICON}: {exc}")
    try:
        png = read_png(outline)
        if (png.width, png.height) != (OUTLINE_SIZE, OUTLINE_SIZE):
            problems.append(f"{OUTLINE_ICON}: is {png.width}x{png.height}, must be {OUTLINE_SIZE}x{OUTLINE_SIZE}")
        elif not png.has_alpha:
            problems.append(f"{OUTLINE_ICON}: is {png.mode} without transparency; it must be white on transparent")
        else:
            pixels = png.pixels()
            coloured = sum(1 for r, g, b, a in pixels if a and (r, g, b) != (255, 255, 255))
            if coloured:
                problems.append(f"{OUTLINE_ICON}: {coloured} visible pixels are not white; it must be white on transparent")
            elif not any(a for *_rgb, a in pixels):
                problems.append(f"{OUTLINE_ICON}: is fully transparent")
    except PngError as exc:
        problems.append(f"{OUTLINE_ICON}: {exc}")
    return problems


def _read(template_dir: Path, name: str) -> bytes:
    try:
        return (template_dir / name).read_bytes()
    except OSError as exc:
        raise TeamsPackageError(f"cannot read {template_dir / name}: {exc.strerror or exc}") from exc


def build_package(
    template_dir: Path, app_id: str, domains: list[str] | None = None, version: str | None = None
) -> Package:
    """The package's bytes and its manifest; raises TeamsPackageError naming every problem."""
    app_id = check_app_id(app_id)
    for domain in domains or []:
        if (problem := domain_problem(domain)) is not None:
            raise TeamsPackageError(f"--domain: {problem}")
    if version is not None and not SEMVER.match(version):
        raise TeamsPackageError(f"--app-version {version!r} is not MAJOR.MINOR.PATCH (for example 1.0.1)")
    try:
        template = json.loads(_read(template_dir, MANIFEST).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TeamsPackageError(f"{template_dir / MANIFEST} is not valid JSON: {exc}") from exc
    manifest = fill_template(template, app_id)
    if isinstance(manifest, dict):
        manifest = with_valid_domains(manifest, domains or [])
        if version is not None:
            manifest["version"] = version
    color, outline = _read(template_dir, COLOR_ICON), _read(template_dir, OUTLINE_ICON)
    problems = manifest_problems(manifest, app_id) + icon_problems(color, outline)
    if problems:
        raise TeamsPackageError(
            f"the Teams app package would be invalid ({template_dir}): " + "; ".join(problems)
        )
    files = {MANIFEST: (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
             COLOR_ICON: color, OUTLINE_ICON: outline}
    return Package(manifest, _zip(files), _placeholder_warnings(manifest))


def _placeholder_warnings(manifest: dict[str, Any]) -> list[str]:
    developer = manifest.get("developer")
    developer = developer if isinstance(developer, dict) else {}
    left = [path for path, value in PLACEHOLDERS.items() if developer.get(path.split(".")[1]) == value]
    if not left:
        return []
    message = (
        f"{', '.join(left)} still hold the template's placeholders: copy manifest/teams, "
        "put in your organisation's name and pages, and pass the copy as --template"
    )
    return [message]


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def write_package(path: Path, data: bytes) -> None:
    """Write the zip in one step: a reader never sees half a package."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise TeamsPackageError(f"--output: folder {directory} does not exist")
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=".lore-teams-", suffix=".zip", dir=directory)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        tmp.chmod(0o644)
        tmp.replace(path)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise TeamsPackageError(f"cannot write {path}: {exc.strerror or exc}") from exc
