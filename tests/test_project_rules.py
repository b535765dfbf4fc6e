"""Rules of the code base that are cheap to check on every run."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from connectors.registry import source_settings
from core.config import Config
from retrieval.index.registry import BACKENDS
from tests.conftest import REPO

LAYERS = ["core", "retrieval", "connectors", "bot"]  # each may import only those before it


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_downwards(layer: str) -> None:
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    offenders = {
        str(p.relative_to(REPO)): sorted(_imports(p) & above)
        for p in (REPO / layer).rglob("*.py")
        if _imports(p) & above
    }
    assert not offenders, f"{layer} imports layers above it: {offenders}"


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    cfg = Config()
    settings = [
        (f"{section.name}.{setting.name}", f"LORE_{section.name}_{setting.name}")
        for section in dataclasses.fields(cfg)
        if section.name not in ("data_dir", "connectors", "index_backends")
        for setting in dataclasses.fields(getattr(cfg, section.name))
    ]
    settings += [
        (f"index.{backend}.{setting.name}", f"LORE_INDEX_{backend}_{setting.name}".replace("-", "_"))
        for backend, model in BACKENDS.items()
        for setting in dataclasses.fields(model)
    ]
    missing = [
        env.upper() for name, env in settings if f"`{name}`" not in readme or env.upper() not in readme
    ]
    assert not missing, f"README configuration table lacks {missing}"


def test_readme_documents_every_connector_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [
        f"connectors.<name>.{setting.name} ({kind})"
        for kind, section in source_settings().items()
        for setting in dataclasses.fields(section)
        if f"`connectors.<name>.{setting.name}`" not in readme
    ]
    assert not missing, f"README connector settings lack {missing}"
