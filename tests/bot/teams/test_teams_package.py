"""`lore teams-package`: the zip a tenant admin uploads, and its refusals."""

from __future__ import annotations

import io
import json
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from bot.cli import main
from bot.teams.manifest import SCHEMA_VERSION
from bot.teams.package import build_package, icon_problems
from bot.teams.png import PngError, read_png
from tests.bot.teams import app_manifest_package
from tests.bot.teams.app_manifest_package import official_validator_errors, schema_errors
from tests.conftest import REPO

TEAMS = REPO / "manifest" / "teams"
APP_ID = "2f0b6c53-8a4e-4c39-9d0e-2e9f1d6a7b11"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LORE_CONFIG", raising=False)
    monkeypatch.setenv("LORE_TEAMS_APP_ID", APP_ID)
    monkeypatch.chdir(tmp_path)  # no lore.toml here
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def png(width: int, height: int, rows: list[bytes], colour_type: int, filters: bool = False) -> bytes:
    """A PNG of these raw rows; with `filters`, row y uses filter type y % 5 (as real encoders
    mix them), so the decoder's unfiltering is exercised."""
    bpp = {2: 3, 4: 2, 6: 4}[colour_type]
    out, prior = b"", bytes(len(rows[0]))
    for y, row in enumerate(rows):
        kind = y % 5 if filters else 0
        encoded = bytearray()
        for i, value in enumerate(row):
            left = row[i - bpp] if i >= bpp else 0
            up, up_left = prior[i], prior[i - bpp] if i >= bpp else 0
            predictor = [0, left, up, (left + up) // 2, _paeth(left, up, up_left)][kind]
            encoded.append((value - predictor) & 0xFF)
        out += bytes([kind]) + bytes(encoded)
        prior = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(out))
            + chunk(b"IEND", b""))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def template_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "my-teams"
    shutil.copytree(TEAMS, folder)
    return folder


# -- the package ----------------------------------------------------------------------------------


def test_the_package_holds_exactly_the_manifest_and_both_icons_at_its_root(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "teams-package", "--output", str(env / "lore-teams.zip"))
    assert code == 0, err
    assert f"wrote {env / 'lore-teams.zip'}" in out and APP_ID in out
    with zipfile.ZipFile(env / "lore-teams.zip") as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read("color.png") == (TEAMS / "color.png").read_bytes()
        assert archive.read("outline.png") == (TEAMS / "outline.png").read_bytes()
    assert manifest["id"] == manifest["bots"][0]["botId"] == manifest["webApplicationInfo"]["id"] == APP_ID
    assert manifest["manifestVersion"] == SCHEMA_VERSION
    # the template's developer placeholders: written, but the admin is told to replace them
    assert "lore: warning: developer.name, developer.websiteUrl" in err


def test_the_written_manifest_is_valid_against_the_official_schema(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(capsys, "teams-package", "--output", str(env / "p.zip"),
                          "--domain", "lore.example.com", "--app-version", "1.2.3")
    assert code == 0, err
    with zipfile.ZipFile(env / "p.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["validDomains"] == ["lore.example.com"] and manifest["version"] == "1.2.3"
    assert schema_errors(manifest, SCHEMA_VERSION) == []
    assert official_validator_errors(manifest, SCHEMA_VERSION) == []


def test_the_same_inputs_give_the_same_bytes() -> None:
    assert build_package(TEAMS, APP_ID).data == build_package(TEAMS, APP_ID).data


def test_a_customised_template_without_placeholders_warns_nothing(tmp_path: Path) -> None:
    folder = template_copy(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["developer"] = {"name": "Northwind IT", "websiteUrl": "https://it.northwind.example/lore",
                             "privacyUrl": "https://it.northwind.example/privacy",
                             "termsOfUseUrl": "https://it.northwind.example/terms"}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    package = build_package(folder, APP_ID)
    assert package.warnings == [] and package.manifest["developer"]["name"] == "Northwind IT"


# -- refusals: one line, exit status 2, nothing written --------------------------------------------


@pytest.mark.parametrize(
    ("app_id", "message"),
    [("", "lore: error: teams.app_id is not set"), ("lore-bot", "lore: error: teams.app_id 'lore-bot' is not a GUID"),
     ("2f0b6c53-8a4e-4c39-9d0e-2e9f1d6a7b1", "is not a GUID")],
)
def test_the_app_id_is_required_and_a_guid(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, app_id: str, message: str
) -> None:
    monkeypatch.setenv("LORE_TEAMS_APP_ID", app_id)
    code, out, err = run(capsys, "teams-package", "--output", str(env / "p.zip"))
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (env / "p.zip").exists()


def test_the_app_id_comes_from_the_config_file(env: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LORE_TEAMS_APP_ID")
    (env / "lore.toml").write_text(f'[teams]\napp_id = "{APP_ID.upper()}"\n', encoding="utf-8")
    code, _out, err = run(capsys, "--config", str(env / "lore.toml"), "teams-package", "--output", "p.zip")
    assert code == 0, err
    with zipfile.ZipFile(env / "p.zip") as archive:
        assert json.loads(archive.read("manifest.json"))["id"] == APP_ID.upper()


def test_an_over_long_short_description_names_the_field_and_the_limit(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = template_copy(env)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    short = "Lore answers questions about Northwind from its own documents, with the sources cited."
    manifest["description"]["short"] = short
    manifest["name"]["short"] = "Lore, the Northwind knowledge bot"
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (env / "p.zip").write_bytes(b"the previous package")
    code, _out, err = run(capsys, "teams-package", "--output", str(env / "p.zip"), "--template", str(folder))
    assert code == 2
    assert err.startswith("lore: error: the Teams app package would be invalid")
    assert "name.short: is 33 characters, at most 30 are allowed" in err
    assert f"description.short: is {len(short)} characters, at most 80 are allowed" in err
    assert len(short) > 80
    assert (env / "p.zip").read_bytes() == b"the previous package"
    assert not list(env.glob(".lore-teams-*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--domain", "https://lore.example.com"], "--domain: 'https://lore.example.com': a host name only"),
     (["--domain", "*.com"], "a wildcard must not cover a whole top-level domain"),
     (["--app-version", "2"], "--app-version '2' is not MAJOR.MINOR.PATCH"),
     (["--template", "/nonexistent"], "cannot read /nonexistent/manifest.json")],
)
def test_bad_options_are_refused(env: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, _out, err = run(capsys, "teams-package", "--output", str(env / "p.zip"), *args)
    assert code == 2 and message in err, err
    assert not (env / "p.zip").exists()


def test_a_template_that_is_not_json_is_refused(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = template_copy(env)
    (folder / "manifest.json").write_text('{"id": ', encoding="utf-8")
    code, _out, err = run(capsys, "teams-package", "--output", "p.zip", "--template", str(folder))
    assert code == 2 and "manifest.json is not valid JSON" in err


def test_a_missing_output_folder_is_refused(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, "teams-package", "--output", str(env / "no" / "p.zip"))
    assert code == 2 and f"--output: folder {env / 'no'} does not exist" in err


# -- icons -----------------------------------------------------------------------------------------

WHITE, CLEAR = bytes([255, 255, 255, 255]), bytes(4)
NAVY = bytes([0x1D, 0x35, 0x57])


def outline(pixel: bytes = WHITE, size: int = 32) -> bytes:
    rows = [(CLEAR * 8 + pixel * (size - 16) + CLEAR * 8) for _ in range(size)]
    return png(size, size, rows, 6)


COLOR = (TEAMS / "color.png").read_bytes()


@pytest.mark.parametrize(
    ("color", "outline_icon", "message"),
    [
        (png(96, 96, [NAVY * 96] * 96, 2), outline(), "color.png: is 96x96, must be 192x192"),
        (png(192, 192, [CLEAR + (NAVY + b"\xff") * 191] * 192, 6), outline(),
         "color.png: has transparent pixels"),
        (COLOR, outline(size=48), "outline.png: is 48x48, must be 32x32"),
        (COLOR, outline(bytes([0, 120, 212, 255])), "outline.png: 512 visible pixels are not white"),
        (COLOR, outline(bytes([250, 250, 250, 128])), "outline.png: 512 visible pixels are not white"),
        (COLOR, png(32, 32, [b"\xff" * 96] * 32, 2), "outline.png: is RGB without transparency"),
        (COLOR, outline(CLEAR), "outline.png: is fully transparent"),
        (COLOR, b"GIF89a", "outline.png: not a PNG file"),
    ],
)
def test_icons_that_teams_would_refuse(color: bytes, outline_icon: bytes, message: str) -> None:
    assert any(p.startswith(message) for p in icon_problems(color, outline_icon)), icon_problems(color, outline_icon)


def test_a_half_transparent_white_outline_is_fine() -> None:
    assert icon_problems(COLOR, outline(bytes([255, 255, 255, 90]))) == []


def test_bad_icons_in_a_template_are_refused_by_the_command(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = template_copy(env)
    (folder / "outline.png").write_bytes(outline(bytes([0, 0, 0, 255])))
    code, _out, err = run(capsys, "teams-package", "--output", "p.zip", "--template", str(folder))
    assert code == 2 and "outline.png: 512 visible pixels are not white" in err
    assert not (env / "p.zip").exists()


def test_the_png_reader_undoes_every_filter() -> None:
    rows = [bytes((x * 7 + y * 13 + c * 51) % 256 for x in range(20) for c in range(4)) for y in range(10)]
    decoded = read_png(png(20, 10, rows, 6, filters=True)).pixels()
    assert decoded == [tuple(row[i : i + 4]) for row in rows for i in range(0, len(row), 4)]


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"\x89PNG\r\n\x1a\n", "missing IHDR"), (COLOR[:-5], "missing IHDR or IEND"), (COLOR[:100], "truncated"),
     (COLOR[:40] + bytes([COLOR[40] ^ 1]) + COLOR[41:], "bad checksum")],
)
def test_the_png_reader_refuses_broken_files(data: bytes, message: str) -> None:
    with pytest.raises(PngError, match=message):
        read_png(data).pixels()


# -- the schema package's install policy ----------------------------------------------------------


def test_without_npm_the_schema_tests_skip_outside_ci_and_fail_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_manifest_package, "PACKAGE_DIR", tmp_path / "none")
    monkeypatch.setattr(app_manifest_package.shutil, "which", lambda _name: None)
    monkeypatch.setattr("tests.conftest.IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="npm is not installed"):
        app_manifest_package.require_package()
    monkeypatch.setattr("tests.conftest.IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        app_manifest_package.require_package()


def test_zip_bytes_open_as_a_zip() -> None:
    with zipfile.ZipFile(io.BytesIO(build_package(TEAMS, APP_ID).data)) as archive:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())


# -- README "Connect Teams" as written -------------------------------------------------------------


def _connect_teams() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return readme.split("## Connect Teams", 1)[1].split("\n## ", 1)[0]


def test_connect_teams_builds_the_package_as_written(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    section = _connect_teams()
    assert "`lore teams-package --output lore-teams.zip`" in section
    code, _out, err = run(capsys, "teams-package", "--output", "lore-teams.zip")
    assert code == 0, err
    assert zipfile.is_zipfile(env / "lore-teams.zip")


def test_connect_teams_names_what_the_code_uses() -> None:
    import dataclasses

    from bot.teams import manifest as rules
    from bot.teams.package import PLACEHOLDERS
    from core.sections import TeamsConfig

    section = " ".join(_connect_teams().split())
    for setting in ("enabled", "app_id", "tenant_ids", "app_password_secret", "certificate_secret",
                    "identity_cache_seconds"):
        assert f"teams.{setting}" in section
        assert setting in {f.name for f in dataclasses.fields(TeamsConfig)}
    assert "`teams-app-password`" in section and TeamsConfig().app_password_secret == "teams-app-password"
    for permission in ("`User.Read.All`", "`GroupMember.Read.All`"):
        assert permission in section
    assert "`https://<your server>/api/messages`" in section
    for path, placeholder in PLACEHOLDERS.items():
        assert f"`{path}`" in section
        assert placeholder.replace("https://", "").split("/")[0] in section
    assert f"schema **{SCHEMA_VERSION}**" in section
    limits = {"short at most 30": rules.MAX_LENGTHS["name.short"] == 30,
              "full 100": rules.MAX_LENGTHS["name.full"] == 100,
              "(short 80, full 4,000)": (rules.MAX_LENGTHS["description.short"], rules.MAX_LENGTHS["description.full"]) == (80, 4000),
              "developer name (32)": rules.MAX_LENGTHS["developer.name"] == 32,
              "at most 3 command lists of 1 to 12": (rules.MAX_COMMAND_LISTS, rules.MAX_COMMANDS) == (3, 12),
              "title at most 128 characters, description 4,000": (rules.MAX_COMMAND_TITLE, rules.MAX_COMMAND_DESCRIPTION) == (128, 4000),
              "at most 100 host names": rules.MAX_VALID_DOMAINS == 100}
    for phrase, matches in limits.items():
        assert phrase in section and matches, phrase
