from index.chunker import chunk_article, split_sentences
from index.documents import Article
from tests.support import SAMPLE


def test_sentences_are_exact_slices_and_respect_abbreviations():
    text = "Mr. Smith met U.S. officials on Monday. They agreed.\n\nA new paragraph starts here"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "Mr. Smith met U.S. officials on Monday.",
        "They agreed.",
        "A new paragraph starts here",
    ]


def test_passages_overlap_and_keep_offsets_into_the_article():
    article = Article(text=SAMPLE.read_text(), title="Raqqa", source="sample")
    passages = chunk_article(article, sentences_per_passage=4, overlap=1, max_chars=900)
    assert len(passages) > 5
    for passage in passages:
        assert article.text[passage.start : passage.end] == passage.text
        assert 1 <= len(passage.sentences) <= 4
        for start, end in passage.sentences:
            assert passage.start <= start < end <= passage.end
    # neighbours share exactly one sentence
    assert passages[0].sentences[-1] == passages[1].sentences[0]
    # every sentence of the article is in some passage
    covered = {s for p in passages for s in p.sentences}
    assert covered == set(split_sentences(article.text))


def test_max_chars_closes_a_passage_early():
    text = " ".join(f"Sentence number {i} is here and it is quite long indeed." for i in range(10))
    passages = chunk_article(Article(text, "t", "s"), sentences_per_passage=8, overlap=0, max_chars=130)
    assert all(len(p.text) <= 130 for p in passages)
    assert len(passages) >= 5


def test_ids_are_stable_and_change_with_content():
    a = Article("Text one.", "T", "src", key="k")
    b = Article("Text two.", "T", "src", key="k")
    assert a.doc_id == b.doc_id and a.version != b.version
    assert Article("Text one.", "T", "src", key="k").version == a.version
