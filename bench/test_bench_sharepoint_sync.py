"""SharePoint sync: throughput of a full sync, API calls of a no-change delta sync, permission
sync time, and the connector's peak memory at two library sizes.

Run: ``python -m pytest -q -m bench -p no:cacheprovider -s bench/test_bench_sharepoint_sync.py``

The SharePoint and Entra stand-ins (``tests/fakes/sharepoint.py``, ``tests/fakes/entra.py``)
serve one site from a background thread of this process, tokens by certificate through msal.
Files are small text files in folders of 100, readable through the site's Members group. Each job
runs through ``SyncEngine.run`` with a fresh connector, the hash embedder, SQLite and a
LanceIndex in a temporary folder. The memory rows run the connector alone in a child process
(the stand-ins in this one), so that the stand-in's own model is not counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.sharepoint.connector import SharePointConnector
from connectors.sharepoint.settings import SharePointConnectorConfig
from connectors.sync import SyncEngine
from core.db import open_database
from retrieval.chunking import Chunker
from retrieval.embedding import HashEmbedder
from retrieval.index.lance import LanceIndex
from tests.fakes.entra import EntraStandIn, make_certificate
from tests.fakes.memory_secrets import MemorySecretStore
from tests.fakes.sharepoint import SharePointStandIn

pytestmark = [pytest.mark.bench, pytest.mark.timeout(3600)]

TENANT = "11111111-2222-3333-4444-555555555555"
APP = "bench-app"
FILES = int(os.environ.get("LORE_TEST_SP_FILES", "5000"))

# The connector alone, reading every change of the library and dropping it: its peak RSS.
_CHILD = """
import json, sys
from core.models import Document
from connectors.sharepoint.connector import SharePointConnector
from connectors.sharepoint.settings import SharePointConnectorConfig
from tests.fakes.memory_secrets import MemorySecretStore
def main():
    info = json.loads(sys.stdin.read())
    secrets = MemorySecretStore(); secrets.put("sharepoint-certificate", info.pop("pem"))
    c = SharePointConnector.from_config("sp", SharePointConnectorConfig(**info), secrets)
    docs = sum(isinstance(x, Document) for x in c.changes(None)); ids = sum(1 for _ in c.list_ids())
    c.close()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) forking parent
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"docs": docs, "ids": ids, "rss_mb": int(hwm.split()[1]) / 1024}))
if __name__ == "__main__":
    main()
"""


def _seed(entra: EntraStandIn, sp: SharePointStandIn, files: int) -> tuple[dict[str, object], str]:
    key, cert = make_certificate()
    entra.register_app(TENANT, APP, certificate_pem=cert)
    sp.grant_app(APP, "Sites.Read.All")
    sp.grant_app(APP, "GroupMember.Read.All")
    site = sp.add_site("/sites/bench", title="Bench")
    site.set_group_members(site.members, ["ana@contoso.example"])
    for n in range(files):
        site.default.add_file(f"f{n // 100}/doc{n}.txt", f"Document {n} about topic {n % 37}.".encode())
    settings: dict[str, object] = {
        "type": "sharepoint", "host": "contoso.sharepoint.com", "tenant_id": TENANT, "client_id": APP,
        "authority_url": entra.base_url, "graph_url": sp.graph_url, "rest_url": sp.rest_url,
        "sites": ["/sites/bench"], "site_pages": False,
    }
    return settings, key + cert


def _connector(settings: dict[str, object], pem: str) -> SharePointConnector:
    secrets = MemorySecretStore()
    secrets.put("sharepoint-certificate", pem)
    return SharePointConnector.from_config("sp", SharePointConnectorConfig(**settings), secrets)  # type: ignore[arg-type]


def test_sharepoint_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emb = HashEmbedder(64)
    rows = []
    with EntraStandIn() as entra, SharePointStandIn(entra, TENANT) as sp:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", entra.ca_file)
        monkeypatch.setenv("CURL_CA_BUNDLE", entra.ca_file)
        settings, pem = _seed(entra, sp, FILES)
        db = open_database(f"sqlite:///{tmp_path / 'lore.db'}")
        engine = SyncEngine(db, LanceIndex(tmp_path / "index", emb.dimension), emb, Chunker(emb.token_counts, 200, 20))
        start, calls = time.monotonic(), len(sp.calls)
        report = engine.run(_connector(settings, pem), "content")
        full = time.monotonic() - start
        assert report.status == "succeeded", report.errors
        rows.append(("full sync", FILES, full, len(sp.calls) - calls))
        calls = len(sp.calls)
        engine.run(_connector(settings, pem), "content")
        no_change = len(sp.calls) - calls
        rows.append(("no-change delta sync", FILES, 0.0, no_change))
        start, calls = time.monotonic(), len(sp.calls)
        report = engine.run(_connector(settings, pem), "permissions")
        assert report.status == "succeeded", report.errors
        rows.append(("permission sync", FILES, time.monotonic() - start, len(sp.calls) - calls))
        assert not any("/content" in path for _, path in sp.calls[calls:])
        db.close()
    memory = {n: _child_rss(n) for n in (1000, 20000)}
    for name, files, seconds, requests in rows:
        rate = f"{files / seconds:.0f} files/s" if seconds else ""
        print(f"{name}: {files} files {seconds:.1f} s {rate} {requests} API calls")
    print(f"connector peak RSS: {json.dumps(memory)}")
    assert no_change <= 8  # the site, its drives, one delta call, the groups: not the files
    assert memory[20000] < memory[1000] * 1.25  # flat: listings are streamed


def _child_rss(files: int) -> float:
    with EntraStandIn() as entra, SharePointStandIn(entra, TENANT) as sp:
        settings, pem = _seed(entra, sp, files)
        env = {**os.environ, "REQUESTS_CA_BUNDLE": entra.ca_file, "CURL_CA_BUNDLE": entra.ca_file}
        out = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps({**settings, "pem": pem}),
                             capture_output=True, text=True, env=env, check=True, timeout=1800,
                             cwd=Path(__file__).resolve().parents[1])
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["docs"] == files and result["ids"] == files
        return float(result["rss_mb"])
