import pytest

from retrieval.fusion import convex, rrf
from retrieval.index.base import Hit


def hit(cid: str, score: float) -> Hit:
    return Hit(cid, cid.split(":")[0], cid, cid, "", (), cid, score)


def test_convex_uses_score_margins() -> None:
    dense = [hit("a:0", 0.9), hit("b:0", 0.5), hit("c:0", 0.1)]
    lexical = [hit("b:0", 12.0), hit("c:0", 11.0)]
    out = convex(dense, lexical, dense_weight=0.7, limit=3)
    # a: 0.7*1 + 0; b: 0.7*0.5 + 0.3*1 = 0.65; c: 0 + 0
    assert [h.chunk_id for h in out] == ["a:0", "b:0", "c:0"]
    assert out[0].score == pytest.approx(0.7)
    assert out[1].score == pytest.approx(0.65)


def test_convex_extremes_reduce_to_single_retrievers() -> None:
    dense = [hit("a:0", 0.9), hit("b:0", 0.8)]
    lexical = [hit("b:0", 5.0), hit("a:0", 1.0)]
    assert [h.chunk_id for h in convex(dense, lexical, 1.0, 2)] == ["a:0", "b:0"]
    assert [h.chunk_id for h in convex(dense, lexical, 0.0, 2)] == ["b:0", "a:0"]


def test_convex_rejects_bad_weight() -> None:
    with pytest.raises(ValueError, match="dense_weight"):
        convex([], [], 1.5, 3)


def test_rrf_and_empty_inputs() -> None:
    out = rrf([hit("a:0", 1), hit("b:0", 1)], [hit("b:0", 1)], k=60, limit=5)
    assert [h.chunk_id for h in out] == ["b:0", "a:0"]
    assert out[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert convex([], [], 0.5, 5) == [] and rrf([], [], 60, 5) == []


def test_single_candidate_normalises_to_one() -> None:
    out = convex([hit("a:0", 0.3)], [], 0.6, 5)
    assert out[0].score == pytest.approx(0.6)
