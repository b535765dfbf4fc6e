"""The Teams app manifest template, its icons, and Lore's own manifest rules, checked against
Microsoft's official schema (from the npm package @microsoft/app-manifest, see
app_manifest_package.py)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.teams.manifest import (
    APP_ID_PLACEHOLDER,
    SCHEMA_URL,
    SCHEMA_VERSION,
    domain_problem,
    fill_template,
    manifest_problems,
)
from bot.teams.png import read_png
from tests.bot.teams.app_manifest_package import (
    official_validator_errors,
    schema_errors,
    schema_versions,
)
from tests.conftest import REPO

TEAMS = REPO / "manifest" / "teams"
TEMPLATE: dict[str, Any] = json.loads((TEAMS / "manifest.json").read_text(encoding="utf-8"))
APP_ID = "2f0b6c53-8a4e-4c39-9d0e-2e9f1d6a7b11"


def filled() -> dict[str, Any]:
    manifest: dict[str, Any] = fill_template(copy.deepcopy(TEMPLATE), APP_ID)
    return manifest


# -- the template -------------------------------------------------------------------------------


def test_the_template_is_a_conversational_bot_in_1_1_chats_group_chats_and_channels() -> None:
    (bot,) = TEMPLATE["bots"]
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert bot["supportsFiles"] is False and bot["isNotificationOnly"] is False
    lists = bot["commandLists"]
    assert sorted(scope for entry in lists for scope in entry["scopes"]) == ["groupChat", "personal", "team"]
    for entry in lists:
        titles = [command["title"] for command in entry["commands"]]
        assert titles[0] == "help" and len(titles) >= 2  # help, then an example question
        assert all(command["description"] for command in entry["commands"])
    assert TEMPLATE["validDomains"] == []  # Lore shows no web content inside Teams


def test_the_ids_are_placeholders_the_package_command_fills() -> None:
    assert TEMPLATE["id"] == APP_ID_PLACEHOLDER
    assert TEMPLATE["bots"][0]["botId"] == APP_ID_PLACEHOLDER
    assert TEMPLATE["webApplicationInfo"] == {"id": APP_ID_PLACEHOLDER}  # no SSO: no `resource`
    manifest = filled()
    assert manifest["id"] == manifest["bots"][0]["botId"] == manifest["webApplicationInfo"]["id"] == APP_ID
    assert APP_ID_PLACEHOLDER not in json.dumps(manifest)


def test_no_resource_specific_consent_and_no_legacy_permissions() -> None:
    # Lore reads rosters through the Bot Connector and users and groups through Graph
    # application permissions (README, "Connect Teams"): it asks Teams for nothing else.
    assert "authorization" not in TEMPLATE and "permissions" not in TEMPLATE


def test_the_template_targets_the_newest_schema_the_package_ships() -> None:
    assert TEMPLATE["manifestVersion"] == SCHEMA_VERSION
    assert TEMPLATE["$schema"] == SCHEMA_URL
    assert schema_versions()[-1] == SCHEMA_VERSION


def test_the_filled_template_keeps_lores_rules() -> None:
    assert manifest_problems(filled(), APP_ID) == []


def test_the_filled_template_is_valid_against_the_official_schema() -> None:
    assert schema_errors(filled(), SCHEMA_VERSION) == []


def test_the_filled_template_passes_the_packages_own_validator() -> None:
    assert official_validator_errors(filled(), SCHEMA_VERSION) == []


# -- the icons -----------------------------------------------------------------------------------


def test_the_color_icon_is_192_square_and_fills_it() -> None:
    png = read_png((TEAMS / "color.png").read_bytes())
    assert (png.width, png.height, png.mode) == (192, 192, "RGB")
    assert all(alpha == 255 for *_rgb, alpha in png.pixels())


def test_the_outline_icon_is_32_square_white_on_transparent() -> None:
    png = read_png((TEAMS / "outline.png").read_bytes())
    assert (png.width, png.height, png.mode) == (32, 32, "RGBA")
    pixels = png.pixels()
    visible = [(r, g, b) for r, g, b, a in pixels if a]
    assert visible and set(visible) == {(255, 255, 255)}
    assert sum(1 for *_rgb, a in pixels if a == 0) > len(pixels) // 3  # mostly transparent
    corners = [pixels[0], pixels[31], pixels[-32], pixels[-1]]
    assert all(a == 0 for *_rgb, a in corners)


# -- Lore's rules agree with the schema ----------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = manifest
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value
    return mutate


BROKEN: list[tuple[str, Mutation, str]] = [
    ("short description", _set("description.short", "x" * 81), "description.short: is 81 characters, at most 80"),
    ("full description", _set("description.full", "x" * 4001), "description.full: is 4001 characters, at most 4000"),
    ("short name", _set("name.short", "L" * 31), "name.short: is 31 characters, at most 30"),
    ("full name", _set("name.full", "L" * 101), "name.full: is 101 characters, at most 100"),
    ("developer name", _set("developer.name", "D" * 33), "developer.name: is 33 characters, at most 32"),
    ("app id", _set("id", "lore-bot"), "id: 'lore-bot' is not a GUID"),
    ("bot id", _set("bots.0.botId", "not-a-guid"), "bots[0].botId: 'not-a-guid' is not a GUID"),
    ("web application id", _set("webApplicationInfo.id", "x"), "webApplicationInfo.id: 'x' is not a GUID"),
    ("bot scope", _set("bots.0.scopes", ["personal", "meetings"]), "bots[0].scopes:"),
    ("command list scope", _set("bots.0.commandLists.0.scopes", ["everyone"]), "bots[0].commandLists[0].scopes:"),
    ("too many commands", _set("bots.0.commandLists.0.commands", [{"title": f"c{i}"} for i in range(13)]),
     "bots[0].commandLists[0].commands: must hold 1 to 12 commands"),
    ("command title", _set("bots.0.commandLists.1.commands.0.title", "t" * 129),
     "bots[0].commandLists[1].commands[0].title: is 129 characters, at most 128"),
    ("command without title", _set("bots.0.commandLists.2.commands.1", {"description": "no title"}),
     "bots[0].commandLists[2].commands[1].title: is required"),
    ("too many command lists", _set("bots.0.commandLists", [TEMPLATE["bots"][0]["commandLists"][0]] * 4),
     "bots[0].commandLists: at most 3 lists"),
    ("accent colour", _set("accentColor", "navy"), "accentColor: 'navy' is not an HTML colour"),
    ("privacy URL", _set("developer.privacyUrl", "lore.example.com/privacy"), "developer.privacyUrl: 'lore.example.com/privacy' is not an http(s) URL"),
    ("too many domains", _set("validDomains", [f"h{i}.example.com" for i in range(101)]),
     "validDomains: 101 entries, at most 100"),
    ("missing short description", lambda m: m["description"].pop("short"), "description.short: is required"),
    ("two bots", lambda m: m["bots"].append(copy.deepcopy(m["bots"][0])), "bots: must hold exactly one bot"),
]


@pytest.mark.parametrize(("label", "mutate", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_manifest_is_named_by_lore_and_refused_by_the_schema(
    label: str, mutate: Mutation, message: str
) -> None:
    manifest = filled()
    mutate(manifest)
    problems = manifest_problems(manifest, APP_ID)
    assert any(p.startswith(message) for p in problems), problems
    assert schema_errors(manifest, SCHEMA_VERSION), f"jsonschema accepts the broken {label}"
    assert official_validator_errors(manifest, SCHEMA_VERSION), f"the package's validator accepts the broken {label}"


@pytest.mark.parametrize(
    ("label", "mutate", "message"),
    [
        ("version", _set("version", "1.0"), "version: '1.0' is not MAJOR.MINOR.PATCH"),
        ("files", _set("bots.0.supportsFiles", True), "bots[0].supportsFiles: must be false"),
        ("notification only", _set("bots.0.isNotificationOnly", True), "bots[0].isNotificationOnly: must be false"),
        ("icon file", _set("icons.color", "logo.png"), "icons.color: must be 'color.png'"),
        ("domain with scheme", _set("validDomains", ["https://lore.example.com"]), "validDomains[0]:"),
        ("another app's id", _set("id", "00000000-0000-0000-0000-000000000001"), "id: must be teams.app_id"),
        ("older schema", _set("manifestVersion", "1.17"), "manifestVersion: is '1.17'"),
    ],
)
def test_rules_lore_keeps_beyond_the_schema(label: str, mutate: Mutation, message: str) -> None:
    """Documented rules the JSON schema cannot express (the version is semver, validDomains are
    host names), and what Lore's package needs (its icon names, its one app id, schema 1.30)."""
    manifest = filled()
    mutate(manifest)
    problems = manifest_problems(manifest, APP_ID)
    assert any(p.startswith(message) for p in problems), problems


def test_all_problems_are_reported_at_once() -> None:
    manifest = filled()
    manifest["description"]["short"] = "x" * 90
    manifest["name"]["short"] = "y" * 40
    manifest["id"] = "nope"
    fields = [p.split(":")[0] for p in manifest_problems(manifest, APP_ID)]
    assert fields == ["id", "name.short", "description.short"]


@pytest.mark.parametrize(
    ("domain", "ok"),
    [("lore.example.com", True), ("*.example.com", True), ("*.*.example.com", True), ("localhost", True),
     ("*.com", False), ("*", False), ("a.*.example.com", False), ("https://lore.example.com", False),
     ("lore.example.com/api", False), ("lore.example.com:443", False), ("lore..example.com", False),
     ("-lore.example.com", False), ("lore example.com", False), ("", False)],
)
def test_valid_domains_are_host_names(domain: str, ok: bool) -> None:
    assert (domain_problem(domain) is None) is ok
