"""Rules of the code base that are cheap to check on every run."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from connectors.registry import source_settings
from core.config import Config
from core.secrets import provider_settings
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
        if section.name not in ("data_dir", "connectors", "index_backends", "secret_providers")
        for setting in dataclasses.fields(getattr(cfg, section.name))
    ]
    settings += [
        (f"index.{backend}.{setting.name}", f"LORE_INDEX_{backend}_{setting.name}".replace("-", "_"))
        for backend, model in BACKENDS.items()
        for setting in dataclasses.fields(model)
    ]
    settings += [
        (f"secrets.{provider}.{setting.name}", f"LORE_SECRETS_{provider}_{setting.name}".replace("-", "_"))
        for provider, model in provider_settings().items()
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


# -- the module graph -----------------------------------------------------------------------------

PRODUCT = ["core", "retrieval", "connectors", "bot"]
MAX_MODULE_LINES = 400
CHAT_ADAPTERS = ["bot/slack", "bot/webchat", "bot/teams"]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _product_modules() -> dict[str, Path]:
    return {_module_name(p): p for layer in PRODUCT for p in (REPO / layer).rglob("*.py")}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The product module an import names: the longest prefix that is one."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _edges(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every product module this one imports, wherever the import is (module level, inside a
    function, under ``if TYPE_CHECKING:``): each of them is a dependency a reader must follow."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            target = _resolve(name, modules)
            if target is not None and target != module:
                out.add(target)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, set())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles_in_product_code() -> None:
    modules = _product_modules()
    graph = {m: _edges(m, p, modules) for m, p in modules.items()}
    assert not _cycles(graph), f"import cycles (TYPE_CHECKING and function-level imports count): {_cycles(graph)}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_product_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(REPO)): n
        for p in _product_modules().values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these along their seams (at most {MAX_MODULE_LINES} lines): {long}"


@pytest.mark.parametrize("adapter", CHAT_ADAPTERS)
def test_chat_adapters_do_not_import_retrieval(adapter: str) -> None:
    modules = _product_modules()
    offenders = {
        m: sorted(t for t in _edges(m, p, modules) if t.split(".")[0] == "retrieval")
        for m, p in modules.items()
        if str(p.relative_to(REPO)).startswith(adapter + "/")
    }
    offenders = {m: t for m, t in offenders.items() if t}
    assert not offenders, f"chat adapters import the turn contract (bot.turn), not retrieval: {offenders}"


def test_the_server_names_no_chat_surface() -> None:
    modules = _product_modules()
    surfaces = [m for m in _edges("bot.server", modules["bot.server"], modules)
                if m.startswith(("bot.slack", "bot.webchat", "bot.teams"))]
    assert not surfaces, f"bot/server.py builds surfaces from bot/surfaces.py only: {surfaces}"


def test_only_bot_teams_imports_the_microsoft_agents_sdk() -> None:
    offenders = sorted(
        str(p.relative_to(REPO))
        for layer in PRODUCT
        for p in (REPO / layer).rglob("*.py")
        if not str(p.relative_to(REPO)).startswith("bot/teams/")
        and _imports(p) & {"microsoft_agents", "botbuilder"}
    )
    assert not offenders, f"only bot/teams/ may import the Microsoft 365 Agents SDK: {offenders}"
