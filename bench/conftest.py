"""Benchmarks run with `make bench` (pytest -m bench): never offline-unsafe, never in `make test`."""

from __future__ import annotations

import os

# Before anything imports sentence-transformers: the model ships in a package, nothing downloads.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
