"""The Teams app manifest: the template filled in with the app id, and the rules it must keep.

The rules are the ones of the manifest schema version Lore targets (v1.30, the newest that the
npm package `@microsoft/app-manifest` bundles for offline validation) that a customised template
can plausibly break: GUID ids, the version format, the lengths of names and descriptions, the
icon files, the bot's scopes and command lists, `validDomains`. Every problem is reported with
the field and the limit, all at once. The test suite also validates the filled manifest against
the official JSON schema itself (tests/bot/teams/test_teams_manifest.py).
"""

from __future__ import annotations

import re
from typing import Any

SCHEMA_VERSION = "1.30"
SCHEMA_URL = f"https://developer.microsoft.com/json-schemas/teams/v{SCHEMA_VERSION}/MicrosoftTeams.schema.json"
APP_ID_PLACEHOLDER = "{{teams.app_id}}"
COLOR_ICON, OUTLINE_ICON = "color.png", "outline.png"

GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
HTTP_URL = re.compile(r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
BOT_SCOPES = ("personal", "team", "groupChat", "copilot")

# field -> its maximum length in characters (schema v1.30)
MAX_LENGTHS = {
    "version": 256,
    "developer.name": 32,
    "developer.websiteUrl": 2048,
    "developer.privacyUrl": 2048,
    "developer.termsOfUseUrl": 2048,
    "name.short": 30,
    "name.full": 100,
    "description.short": 80,
    "description.full": 4000,
}
MAX_COMMAND_LISTS, MAX_COMMANDS = 3, 12
MAX_COMMAND_TITLE, MAX_COMMAND_DESCRIPTION = 128, 4000
MAX_VALID_DOMAINS, MAX_DOMAIN_LENGTH = 100, 2048


def is_guid(value: object) -> bool:
    return isinstance(value, str) and GUID.match(value) is not None


def fill_template(template: Any, app_id: str) -> Any:
    """The template with every string that is exactly the placeholder replaced by the app id."""
    if isinstance(template, dict):
        return {key: fill_template(value, app_id) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_template(value, app_id) for value in template]
    return app_id if template == APP_ID_PLACEHOLDER else template


def with_valid_domains(manifest: dict[str, Any], domains: list[str]) -> dict[str, Any]:
    """The manifest with these domains added to `validDomains` (each once, in order)."""
    listed = manifest.get("validDomains")
    current = list(listed) if isinstance(listed, list) else []
    return {**manifest, "validDomains": current + [d for d in domains if d not in current]}


def _get(manifest: dict[str, Any], path: str) -> Any:
    value: Any = manifest
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def manifest_problems(manifest: Any, app_id: str) -> list[str]:
    """Every rule the manifest breaks, as `field: what is wrong (the limit)`; empty when none."""
    if not isinstance(manifest, dict):
        return ["manifest.json: is not a JSON object"]
    problems: list[str] = []
    if manifest.get("manifestVersion") != SCHEMA_VERSION:
        problems.append(
            f"manifestVersion: is {manifest.get('manifestVersion')!r}; Lore validates against "
            f"schema {SCHEMA_VERSION}, so it must be \"{SCHEMA_VERSION}\""
        )
    if manifest.get("$schema") != SCHEMA_URL:
        problems.append(f"$schema: must be {SCHEMA_URL}")
    problems += _identity_problems(manifest, app_id)
    problems += _text_problems(manifest)
    problems += _icon_problems(manifest)
    problems += _bot_problems(manifest, app_id)
    problems += _domain_problems(manifest.get("validDomains"))
    return problems


def _identity_problems(manifest: dict[str, Any], app_id: str) -> list[str]:
    problems = []
    for field in ("id", "webApplicationInfo.id"):
        value = _get(manifest, field)
        if not is_guid(value):
            problems.append(f"{field}: {value!r} is not a GUID")
        elif value.lower() != app_id.lower():
            problems.append(f"{field}: must be teams.app_id ({app_id}), not {value}")
    version = manifest.get("version")
    if not isinstance(version, str) or not SEMVER.match(version):
        problems.append(f"version: {version!r} is not MAJOR.MINOR.PATCH (for example 1.0.0)")
    accent = manifest.get("accentColor")
    if not isinstance(accent, str) or not HEX_COLOR.match(accent):
        problems.append(f"accentColor: {accent!r} is not an HTML colour like #1D3557")
    return problems


def _text_problems(manifest: dict[str, Any]) -> list[str]:
    problems = []
    required = {"developer.name", "developer.websiteUrl", "developer.privacyUrl",
                "developer.termsOfUseUrl", "name.short", "description.short", "description.full"}
    for field, limit in MAX_LENGTHS.items():
        value = _get(manifest, field)
        if value is None and field not in required:
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{field}: is required (text, at most {limit} characters)")
        elif len(value) > limit:
            problems.append(f"{field}: is {len(value)} characters, at most {limit} are allowed")
        elif field.endswith("Url") and not HTTP_URL.match(value):
            problems.append(f"{field}: {value!r} is not an http(s) URL")
    return problems


def _icon_problems(manifest: dict[str, Any]) -> list[str]:
    problems = []
    for field, name in (("icons.color", COLOR_ICON), ("icons.outline", OUTLINE_ICON)):
        if _get(manifest, field) != name:
            problems.append(f"{field}: must be {name!r} (the file the package puts next to manifest.json)")
    return problems


def _bot_problems(manifest: dict[str, Any], app_id: str) -> list[str]:
    bots = manifest.get("bots")
    if not isinstance(bots, list) or len(bots) != 1 or not isinstance(bots[0], dict):
        return ["bots: must hold exactly one bot (Lore)"]
    bot = bots[0]
    problems = []
    if not is_guid(bot.get("botId")):
        problems.append(f"bots[0].botId: {bot.get('botId')!r} is not a GUID")
    elif bot["botId"].lower() != app_id.lower():
        problems.append(f"bots[0].botId: must be teams.app_id ({app_id}), not {bot['botId']}")
    problems += _scope_problems("bots[0].scopes", bot.get("scopes"))
    for flag in ("supportsFiles", "isNotificationOnly"):
        if bot.get(flag, False) is not False:
            problems.append(f"bots[0].{flag}: must be false (Lore neither takes files nor only notifies)")
    lists = bot.get("commandLists", [])
    if not isinstance(lists, list) or len(lists) > MAX_COMMAND_LISTS:
        return [*problems, f"bots[0].commandLists: at most {MAX_COMMAND_LISTS} lists are allowed"]
    for i, command_list in enumerate(lists):
        problems += _command_list_problems(f"bots[0].commandLists[{i}]", command_list)
    return problems


def _scope_problems(field: str, scopes: object) -> list[str]:
    if not isinstance(scopes, list) or not scopes:
        return [f"{field}: must list at least one of {', '.join(BOT_SCOPES)}"]
    unknown = [s for s in scopes if s not in BOT_SCOPES]
    if unknown or len(set(scopes)) != len(scopes):
        return [f"{field}: {scopes!r} must be distinct values of {', '.join(BOT_SCOPES)}"]
    return []


def _command_list_problems(field: str, command_list: object) -> list[str]:
    if not isinstance(command_list, dict):
        return [f"{field}: is not an object with scopes and commands"]
    problems = _scope_problems(f"{field}.scopes", command_list.get("scopes"))
    commands = command_list.get("commands")
    if not isinstance(commands, list) or not 1 <= len(commands) <= MAX_COMMANDS:
        return [*problems, f"{field}.commands: must hold 1 to {MAX_COMMANDS} commands"]
    for j, command in enumerate(commands):
        where = f"{field}.commands[{j}]"
        if not isinstance(command, dict):
            problems.append(f"{where}: is not an object with a title")
            continue
        for key, limit, required in (("title", MAX_COMMAND_TITLE, True),
                                     ("description", MAX_COMMAND_DESCRIPTION, False)):
            value = command.get(key)
            if value is None and not required:
                continue
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{where}.{key}: is required (text, at most {limit} characters)")
            elif len(value) > limit:
                problems.append(f"{where}.{key}: is {len(value)} characters, at most {limit} are allowed")
    return problems


def domain_problem(domain: object) -> str | None:
    """Why this is no `validDomains` entry (a host name, whole-label wildcards such as
    `*.example.com`, no scheme, path or port), or None."""
    if not isinstance(domain, str) or not domain:
        return f"{domain!r} is not a host name"
    if len(domain) > MAX_DOMAIN_LENGTH:
        return f"is {len(domain)} characters, at most {MAX_DOMAIN_LENGTH} are allowed"
    if "://" in domain or "/" in domain or ":" in domain:
        return f"{domain!r}: a host name only, without scheme, path or port"
    labels = domain.split(".")
    if any(label != "*" and not _LABEL.match(label) for label in labels):
        return f"{domain!r} is not a host name (letters, digits, hyphens, dots; `*` only as a whole label)"
    wildcards = next((i for i, label in enumerate(labels) if label != "*"), len(labels))
    if "*" in labels[wildcards:]:
        return f"{domain!r}: `*` may only stand for leading labels, as in *.example.com"
    if wildcards and len(labels) - wildcards < 2:
        return f"{domain!r}: a wildcard must not cover a whole top-level domain"
    return None


def _domain_problems(domains: object) -> list[str]:
    if domains is None:
        return []
    if not isinstance(domains, list):
        return ["validDomains: must be a list of host names"]
    problems = []
    if len(domains) > MAX_VALID_DOMAINS:
        problems.append(f"validDomains: {len(domains)} entries, at most {MAX_VALID_DOMAINS} are allowed")
    for i, domain in enumerate(domains):
        if (problem := domain_problem(domain)) is not None:
            problems.append(f"validDomains[{i}]: {problem}")
    return problems
