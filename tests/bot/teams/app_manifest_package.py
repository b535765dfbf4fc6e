"""Microsoft's own Teams manifest schemas, from the npm package `@microsoft/app-manifest`.

The schemas are not copied into this repository: the package is installed with npm into a cache
folder (`$LORE_TEST_CACHE_DIR`, default `~/.cache/lore-tests`) the first time a test needs it,
pinned to one version, and reused afterwards. Validation then runs offline, twice: with Python's
`jsonschema` against the bundled JSON schema, and with the package's own validator in Node.js.
When npm, Node.js or the registry is not available the tests skip, except in CI (`CI=true`),
where they fail (the policy of tests/bot/browser.py for Chromium).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import require_service

PACKAGE = "@microsoft/app-manifest"
VERSION = "1.1.2"  # the newest release when Lore's manifest moved to schema 1.30
# The package's code requires fs-extra but declares only its type definitions as a dependency.
UNDECLARED = ["fs-extra@11.3.4"]
CACHE = Path(os.environ.get("LORE_TEST_CACHE_DIR", Path.home() / ".cache" / "lore-tests"))
PREFIX = CACHE / f"app-manifest-{VERSION}"
PACKAGE_DIR = PREFIX / "node_modules" / "@microsoft" / "app-manifest"
TEAMS_SCHEMAS = PACKAGE_DIR / "build" / "json-schemas" / "teams"


def _install() -> str | None:
    if (PACKAGE_DIR / "package.json").is_file() and (PREFIX / "node_modules" / "fs-extra").is_dir():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed (Node.js 18 or later, with npm)"
    PREFIX.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(
            [npm, "install", "--prefix", str(PREFIX), "--no-save", "--no-audit", "--no-fund",
             "--ignore-scripts", "--loglevel=error", f"{PACKAGE}@{VERSION}", *UNDECLARED],
            capture_output=True, text=True, timeout=600, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"npm install {PACKAGE}@{VERSION} failed: {exc}"
    if result.returncode != 0 or not (PACKAGE_DIR / "package.json").is_file():
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        return f"npm install {PACKAGE}@{VERSION} failed: {' | '.join(tail)}"
    return None


def require_package() -> Path:
    """The installed package's folder; skips (fails in CI) when it cannot be installed."""
    require_service(f"{PACKAGE}@{VERSION}", _install())
    return PACKAGE_DIR


def schema_versions() -> list[str]:
    """The numbered Teams manifest schema versions the package bundles, oldest first."""
    require_package()
    found = [p.name[1:] for p in TEAMS_SCHEMAS.iterdir() if re.fullmatch(r"v\d+\.\d+", p.name)]
    return sorted(found, key=lambda v: tuple(int(n) for n in v.split(".")))


def load_schema(version: str) -> dict[str, Any]:
    require_package()
    path = TEAMS_SCHEMAS / f"v{version}" / "MicrosoftTeams.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8-sig"))
    return schema


def schema_errors(manifest: dict[str, Any], version: str) -> list[str]:
    """jsonschema's complaints about the manifest, as `path: message`, against the official
    schema. It declares draft-04 but also uses `const` and `if`/`then` (later drafts), which the
    package's own validator (Ajv) applies too, so the draft-04 validator gets those keywords."""
    import jsonschema
    from jsonschema import validators

    draft7 = jsonschema.Draft7Validator.VALIDATORS
    validator_class = validators.extend(
        jsonschema.Draft4Validator, {k: draft7[k] for k in ("const", "if")}
    )
    validator = validator_class(load_schema(version))
    return sorted(
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(manifest)
    )


_NODE_CHECK = """
const path = process.argv[1], pkg = require(process.argv[2]);
const fs = require("fs");
const text = fs.readFileSync(0, "utf8");
const schema = JSON.parse(fs.readFileSync(path, "utf8").replace(/\\\\a/g, "\\\\u0007").replace(/\\\\v/g, "\\\\u000b"));
const found = [];
try {  // the package's runtime type check of a v1.30 manifest: throws on a wrong type or value
  pkg.TeamsManifestConverter.jsonToManifest(text);
} catch (e) { found.push("type check: " + String(e.message || e).split("\\n")[0]); }
pkg.AppManifestUtils.validateAgainstSchema(JSON.parse(text), schema)
  .then((errors) => { process.stdout.write(JSON.stringify(found.concat(errors))); })
  .catch((e) => { process.stderr.write(String(e)); process.exit(3); });
"""


def official_validator_errors(manifest: dict[str, Any], version: str) -> list[str]:
    """The package's own validator (`AppManifestUtils.validateAgainstSchema`, Ajv) in Node.js,
    given the bundled schema file, so that nothing is fetched."""
    package = require_package()
    node = shutil.which("node")
    require_service("Node.js", None if node else "node is not installed")
    assert node is not None
    schema = TEAMS_SCHEMAS / f"v{version}" / "MicrosoftTeams.schema.json"
    result = subprocess.run(
        [node, "-e", _NODE_CHECK, str(schema), str(package)],
        input=json.dumps(manifest), capture_output=True, text=True, timeout=120, check=False,
    )
    if result.returncode != 0:
        return [f"node exited {result.returncode}: {result.stderr.strip()[-500:]}"]
    errors: list[str] = json.loads(result.stdout)
    return errors
