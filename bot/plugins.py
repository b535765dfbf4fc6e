"""The composition root of the settings: every plug-in kind's registration table, handed to the
settings loader (core cannot import the layers above it, so the application composes them).

Chat surfaces have their table in :mod:`bot.surfaces`; they take their settings from core's
``[slack]`` / ``[webchat]`` sections.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from connectors.registry import source_settings
from core import config
from core.secrets import provider_settings
from retrieval.index.registry import BACKENDS


def plugins() -> config.Plugins:
    """Sources, index backends and secret providers by name, with their settings models."""
    return config.Plugins(sources=source_settings(), index_backends=BACKENDS, secret_providers=provider_settings())


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> config.Config:
    """:func:`core.config.load_config` with every registered plug-in's settings."""
    return config.load_config(path, env, plugins=plugins())
