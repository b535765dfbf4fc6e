"""Every error Lore raises on purpose is under the one root (core.errors), in its layer's
subtree."""

from __future__ import annotations

import importlib
import inspect

import pytest

from bot.errors import BotError
from connectors.errors import SourceError
from core.errors import CoreError, LoreError
from retrieval.errors import RetrievalError
from tests.conftest import REPO

# The sources' own errors (connectors/files, connectors/confluence) are not checked here.
SUBTREES = {"core": CoreError, "retrieval": RetrievalError, "connectors/sync": SourceError, "bot": BotError}


def _modules(folder: str) -> list[str]:
    return sorted(
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in (REPO / folder).rglob("*.py")
        if "migrations" not in p.parts
    )


@pytest.mark.parametrize("folder", sorted(SUBTREES))
def test_every_error_class_is_in_its_layers_subtree(folder: str) -> None:
    root = SUBTREES[folder]
    outside = []
    for name in _modules(folder):
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or cls is LoreError or not issubclass(cls, Exception):
                continue
            if not issubclass(cls, root):
                outside.append(f"{name}.{cls_name}")
    assert not outside, f"error classes outside {root.__name__}: {outside}"
