"""The embedded LanceDB backend: writes, ACL filter inside both searches, ACL rewrite."""

from pathlib import Path

import numpy as np
import pytest

from core.acl import ORG_MEMBERS, Acl
from core.config import Config, ConfigError
from core.models import Chunk
from retrieval.acl_fields import encode_acl
from retrieval.embedding import HashEmbedder
from retrieval.index.base import IndexedChunk, IndexError_
from retrieval.index.lance import LanceIndex, LanceSettings
from retrieval.index.registry import BACKENDS, index_location, open_existing_index, open_index

EMB = HashEmbedder(32)


def rows(doc_id: str, texts: list[str], acl: Acl) -> list[IndexedChunk]:
    fields = encode_acl(acl, lambda g: ())
    out = []
    vecs = EMB.embed_documents(texts)
    for i, t in enumerate(texts):
        c = Chunk(f"{doc_id}:{i}", doc_id, i, f"{doc_id}.md", doc_id.title(), f"file:///{doc_id}", ("H",), t, f"{doc_id}\n{t}", acl)
        out.append(IndexedChunk(c, vecs[i], fields))
    return out


@pytest.fixture
def index(tmp_path: Path) -> LanceIndex:
    ix = LanceIndex(tmp_path / "ix", EMB.dimension)
    ix.replace_documents(["pub"], rows("pub", ["vpn access needs wireguard", "holiday rules"], Acl.of([[ORG_MEMBERS]])))
    ix.replace_documents(["sec"], rows("sec", ["vpn breakglass secret procedure"], Acl.of([["group:files:eng"], ["group:files:sec"]])))
    return ix


def ids(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.chunk_id for h in hits]


def test_filter_applies_to_dense_and_lexical(index: LanceIndex) -> None:
    q = EMB.embed_query("vpn")
    everyone = [ORG_MEMBERS, "user:e@x.io"]
    both = everyone + ["group:files:eng", "group:files:sec"]
    one = everyone + ["group:files:eng"]
    assert "sec:0" not in ids(index.dense_search(q, everyone, 10))
    assert "sec:0" not in ids(index.lexical_search("vpn", everyone, 10))
    assert "sec:0" not in ids(index.lexical_search("breakglass", one, 10))  # one clause is not enough
    assert ids(index.lexical_search("breakglass", both, 10)) == ["sec:0"]
    assert "sec:0" in ids(index.dense_search(q, both, 10))
    assert index.dense_search(q, [], 10) == []  # no principals: nothing (only the sentinel)


def test_replace_is_exact_and_idempotent(index: LanceIndex) -> None:
    index.replace_documents(["pub"], rows("pub", ["only one chunk now"], Acl.of([[ORG_MEMBERS]])))
    index.replace_documents(["pub"], rows("pub", ["only one chunk now"], Acl.of([[ORG_MEMBERS]])))
    assert index.chunk_ids("pub") == ["pub:0"]
    assert index.count_chunks() == 2
    assert index.lexical_search("holiday", [ORG_MEMBERS], 5) == []


def test_delete_and_document_ids(index: LanceIndex) -> None:
    assert index.document_ids() == {"pub", "sec"}
    index.delete_documents(["sec"])
    assert index.document_ids() == {"pub"}
    index.replace_documents(["pub"], [])
    assert index.count_chunks() == 0


def test_update_acl_without_reembedding(index: LanceIndex) -> None:
    before = index.lexical_search("breakglass", ["group:files:eng", "group:files:sec"], 5)
    index.update_acls({"sec": encode_acl(Acl.of([[ORG_MEMBERS]]), lambda g: ())})
    after = index.lexical_search("breakglass", [ORG_MEMBERS], 5)
    assert ids(after) == ids(before) == ["sec:0"]
    assert index.lexical_search("breakglass", ["group:files:eng", "group:files:sec"], 5) == []


def test_update_acls_in_one_batch(index: LanceIndex) -> None:
    index.replace_documents(["faq"], rows("faq", ["vpn faq for contractors"], Acl.of([[ORG_MEMBERS]])))
    eng = encode_acl(Acl.of([["group:files:eng"]]), lambda g: ())
    versions = index._table.version
    index.update_acls({"pub": eng, "faq": eng, "sec": encode_acl(Acl.of([["user:a@x.io"]]), lambda g: ())})
    assert index._table.version == versions + 2  # one write per distinct ACL, not per document
    assert index.lexical_search("vpn", [ORG_MEMBERS], 10) == []
    assert sorted(ids(index.lexical_search("vpn", ["group:files:eng"], 10))) == ["faq:0", "pub:0"]
    assert ids(index.lexical_search("breakglass", ["user:a@x.io"], 10)) == ["sec:0"]
    with pytest.raises(IndexError_, match="ACL fields"):
        index.update_acls({"pub": (("x",),)})


def test_optimize_keeps_results_and_reopen(index: LanceIndex, tmp_path: Path) -> None:
    index.optimize()
    reopened = LanceIndex(tmp_path / "ix", EMB.dimension)
    assert ids(reopened.lexical_search("wireguard", [ORG_MEMBERS], 5)) == ["pub:0"]
    existing = LanceIndex.open_existing(tmp_path / "ix")  # without knowing the vector size
    assert existing is not None and existing.count_chunks() == 3
    assert LanceIndex.open_existing(tmp_path / "none") is None


def test_dimension_mismatch_is_a_clear_error(index: LanceIndex, tmp_path: Path) -> None:
    with pytest.raises(IndexError_, match="32-dimensional vectors but the embedder makes 64"):
        LanceIndex(tmp_path / "ix", 64)


def test_quotes_in_principals_and_queries_are_safe(index: LanceIndex) -> None:
    assert index.lexical_search("o'brien \"vpn\" AND (", ["user:o'brien@x.io", ORG_MEMBERS], 5) is not None
    assert index.dense_search(np.ones(32, dtype=np.float32), ["user:x'); DROP@x.io"], 5) == []


def test_chunks_of_other_documents_rejected(index: LanceIndex) -> None:
    with pytest.raises(IndexError_, match="not being replaced"):
        index.replace_documents(["pub"], rows("sec", ["x"], Acl.of([[ORG_MEMBERS]])))


def test_vector_index_above_threshold_keeps_filter_and_exact_scores(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    ix = LanceIndex(tmp_path / "vx", 16, vector_index_min_chunks=300)
    flat = LanceIndex(tmp_path / "flat", 16, vector_index_min_chunks=0)
    public, secret = Acl.of([[ORG_MEMBERS]]), Acl.of([["group:files:sec"]])
    items = []
    for i in range(400):
        v = rng.standard_normal(16).astype(np.float32)
        v /= np.linalg.norm(v)
        acl = secret if i % 4 == 0 else public
        c = Chunk(f"d{i}:0", f"d{i}", 0, f"d{i}.md", "t", "u", (), "x", "x", acl)
        items.append(IndexedChunk(c, v, encode_acl(acl, lambda g: ())))
    for target in (ix, flat):
        target.replace_documents([f"d{i}" for i in range(400)], items)
        target.optimize()
    assert ix._vector_index() is not None and flat._vector_index() is None
    q = rng.standard_normal(16).astype(np.float32)
    q /= np.linalg.norm(q)
    approx = ix.dense_search(q, [ORG_MEMBERS], 20)
    exact = flat.dense_search(q, [ORG_MEMBERS], 20)
    assert all(int(h.document_id[1:]) % 4 != 0 for h in approx)  # the ACL filter still applies
    assert len({h.chunk_id for h in approx} & {h.chunk_id for h in exact}) >= 18
    by_id = {h.chunk_id: h.score for h in exact}
    for h in approx:
        if h.chunk_id in by_id:
            assert h.score == pytest.approx(by_id[h.chunk_id], abs=1e-4)  # refined: exact cosine


def test_the_configured_backend_opens_from_its_settings(tmp_path: Path) -> None:
    cfg = Config(data_dir=tmp_path / "data")  # built in code: the backend's defaults apply
    assert index_location(cfg) == str(tmp_path / "data" / "index")
    assert open_existing_index(cfg) is None
    index = open_index(cfg, EMB.dimension)
    assert isinstance(index, LanceIndex) and index.path == tmp_path / "data" / "index"
    cfg.index_backends["lance"] = LanceSettings(path=str(tmp_path / "elsewhere"), vector_index_min_chunks=0)
    index = open_index(cfg, EMB.dimension)
    assert isinstance(index, LanceIndex) and index.vector_index_min_chunks == 0
    assert index_location(cfg) == str(tmp_path / "elsewhere") and open_existing_index(cfg) is not None
    assert BACKENDS == {"lance": LanceSettings}
    cfg.index.backend = "qdrant"
    with pytest.raises(ConfigError, match="index.backend: expected one of lance, got 'qdrant'"):
        open_index(cfg, EMB.dimension)
