from core.acl import ORG_MEMBERS, Acl
from core.models import Document, Section
from retrieval.chunking import Chunker
from retrieval.embedding import HashEmbedder

ACL = Acl.of([[ORG_MEMBERS]])
EMB = HashEmbedder(32)


def doc(*sections: Section, title: str = "Leave policy") -> Document:
    return Document("d1", "s", "hr/leave.md", title, "file:///hr/leave.md", sections, ACL)


def words(n: int, start: int = 0) -> str:
    return " ".join(f"w{i}" for i in range(start, start + n))


def test_chunks_respect_the_token_limit_and_keep_every_word() -> None:
    text = "\n\n".join(words(37, 100 * p) + "." for p in range(9))
    chunks = Chunker(EMB.token_counts, max_tokens=50, min_tokens=5).chunk(doc(Section(("A",), text)), ACL)
    assert all(EMB.count_tokens(c.text) <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()  # nothing lost, order kept


def test_oversized_paragraph_is_cut_at_sentences_then_words() -> None:
    sentence = words(30) + "."
    text = " ".join([sentence] * 4) + " " + words(130, 500)  # one paragraph, one very long "sentence"
    chunks = Chunker(EMB.token_counts, max_tokens=40, min_tokens=5).chunk(doc(Section((), text)), ACL)
    assert all(EMB.count_tokens(c.text) <= 40 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_sections_are_not_merged_when_large_and_heading_context_is_embedded() -> None:
    d = doc(Section(("Leave", "Annual"), words(45)), Section(("Leave", "Sick"), words(45, 1000)))
    chunks = Chunker(EMB.token_counts, max_tokens=50, min_tokens=10).chunk(d, ACL)
    assert [c.heading_path for c in chunks] == [("Leave", "Annual"), ("Leave", "Sick")]
    assert chunks[1].embed_text.startswith("Leave policy\nLeave > Sick\n")
    assert [c.id for c in chunks] == ["d1:0", "d1:1"]
    assert all(c.acl == ACL for c in chunks)


def test_tiny_sections_merge_with_sub_heading_inline_and_common_path() -> None:
    d = doc(Section(("Leave", "Annual"), "27 days a year."), Section(("Leave", "Sick"), "Tell your lead."))
    chunks = Chunker(EMB.token_counts, max_tokens=50, min_tokens=10).chunk(d, ACL)
    assert len(chunks) == 1
    assert chunks[0].heading_path == ("Leave",)
    assert chunks[0].text == "27 days a year.\n\nSick\nTell your lead."


def test_empty_document_has_no_chunks() -> None:
    assert Chunker(EMB.token_counts).chunk(doc(Section((), "  \n\n ")), ACL) == []


def test_real_tokenizer_counts_are_used() -> None:
    # A counter that says every paragraph is huge forces word-level splitting.
    def count(texts):  # type: ignore[no-untyped-def]
        return [len(t.split()) * 10 for t in texts]

    chunks = Chunker(count, max_tokens=20, min_tokens=1).chunk(doc(Section((), "a b c d e")), ACL)
    assert [c.text for c in chunks] == ["a b", "c d", "e"]
