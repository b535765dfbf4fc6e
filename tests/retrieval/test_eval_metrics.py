import math
from pathlib import Path

import pytest

from retrieval.eval import EvalDataError, load_beir, mrr_at, ndcg_at, recall_at


def test_ndcg_exponential_gain() -> None:
    judged = {"a": 2, "b": 1}
    assert ndcg_at(["a", "b"], judged) == pytest.approx(1.0)
    dcg = (2**1 - 1) / math.log2(2) + (2**2 - 1) / math.log2(3)
    idcg = 3 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(["b", "a"], judged) == pytest.approx(dcg / idcg)
    assert ndcg_at(["x"], judged) == 0.0
    assert ndcg_at(["a"], {"a": 0}) == 0.0  # nothing relevant judged


def test_recall_and_mrr() -> None:
    judged = {"a": 1, "b": 1, "z": 0}
    assert recall_at(["x", "a", "z"], judged, 2) == 0.5
    assert mrr_at(["z", "x", "b"], judged) == pytest.approx(1 / 3)
    assert mrr_at(["x"] * 10 + ["a"], judged) == 0.0


def test_bad_beir_folder(tmp_path: Path) -> None:
    with pytest.raises(EvalDataError, match="corpus.jsonl is missing"):
        load_beir(tmp_path)
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text("")
    (tmp_path / "queries.jsonl").write_text('{"_id": "1", "text": "q"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("1\td\t1\n")
    with pytest.raises(EvalDataError, match="header row"):
        load_beir(tmp_path)
