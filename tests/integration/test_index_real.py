"""The index with its real parts: the bundled MiniLM, embedded Chroma, and a `chroma run` server."""

from types import SimpleNamespace

import numpy as np
import pytest

from assistant.rerank import Reranker
from assistant.retriever import HybridRetriever
from core.errors import ConfigError
from core.settings import Settings
from index.documents import Article
from index.loaders import load_paths
from index.store import ArticleIndex
from tests.support import SAMPLE


def sample_article() -> Article:
    [article] = list(load_paths([SAMPLE]))
    return article


@pytest.fixture(params=["embedded", "server"])
def real_index(request, tmp_path, minilm):
    if request.param == "server":
        host, port = request.getfixturevalue("chroma_server")
        settings = Settings(data_dir=tmp_path, chroma_host=host, chroma_port=port, collection=f"t{abs(hash(tmp_path)) % 10**8}", _env_file=None)
    else:
        settings = Settings(data_dir=tmp_path, _env_file=None)
    return ArticleIndex.from_settings(settings, embeddings=minilm)


def test_ingest_reingest_replace_delete(real_index):
    article = sample_article()
    [added] = real_index.add([article])
    assert added.status == "added" and added.passages > 5
    assert [o.status for o in real_index.add([article])] == ["unchanged"]
    assert real_index.vectors.count() == added.passages

    edited = Article(article.text + "\nA new closing sentence about reconstruction.", article.title, article.source, key=article.key)
    [replaced] = real_index.add([edited])
    assert replaced.status == "replaced"
    assert set(real_index.vectors.ids()) == real_index.catalog.passage_ids()
    assert real_index.vectors.count() == replaced.passages

    assert real_index.delete(article.doc_id)
    assert real_index.vectors.count() == 0 and real_index.documents() == []


def test_hybrid_retrieval_finds_the_named_person(real_index):
    real_index.add([sample_article()])
    retriever = HybridRetriever(index=real_index, k=3)
    documents = retriever.invoke("Who is Talal Selo?")
    assert any("SDF spokesman Talal Selo told Reuters" in d.page_content for d in documents)
    for d in documents:
        text = real_index.document(d.metadata["doc_id"])["text"]
        assert text[d.metadata["start"] : d.metadata["end"]] == d.page_content


def test_retrieve_embeds_beside_lexical_search_and_matches_search(real_index):
    real_index.add([sample_article()])
    retriever = HybridRetriever(index=real_index, k=3)
    questions = ["Who is Talal Selo?", "Who brokered the deal?", "Where did the fighters go?"]
    for question in questions:
        vector, documents, embed_ms = retriever.retrieve(question)
        assert np.allclose(vector, retriever.embed_question(question), atol=1e-5)
        assert [p.passage_id for p in documents] == [p.passage_id for p in retriever.search(question)]
        assert embed_ms > 0
        # each passage carries its whole article, for the check of the question's names
        assert all(p.article == real_index.document(p.doc_id)["text"] for p in documents)
    # the server answers from many threads at once: each question still gets its own vector
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(retriever.retrieve, questions * 2))
    for question, (vector, documents, _) in zip(questions * 2, results):
        assert np.allclose(vector, retriever.embed_question(question), atol=1e-5)


def test_reindex_replaces_fake_vectors_with_minilm_ones(real_index):
    from index.embeddings import HashEmbeddings

    fake = ArticleIndex(real_index.catalog, real_index.vectors, HashEmbeddings())  # same catalog and collection
    [added] = fake.add([sample_article()])
    with pytest.raises(ConfigError, match="hash:64"):
        real_index.dense_search(real_index.embeddings.encode(["deal"])[0], 3)
    assert real_index.reembed() == added.passages
    assert real_index.vectors.count() == added.passages
    # every stored vector is now the real model's vector of its passage, and dense search finds by meaning
    rows = real_index.passages(real_index.vectors.ids())
    stored = real_index.vectors.vectors(list(rows))
    texts = [real_index.embedding_text(row["title"], SimpleNamespace(text=row["text"])) for row in rows.values()]
    expected = real_index.embeddings.encode(texts)
    assert np.allclose([float(stored[pid] @ vector) for pid, vector in zip(rows, expected)], 1.0, atol=1e-4)
    documents = HybridRetriever(index=real_index, k=3, lexical_weight=0.0).invoke("Who brokered the deal?")
    assert any("brokered by the council and tribal elders" in d.page_content for d in documents)


def test_one_question_embeds_on_query_threads_and_a_batch_on_every_core(minilm):
    import torch

    cores = minilm._batch_threads
    minilm.encode(["Who brokered the deal?"])
    assert torch.get_num_threads() == minilm.query_threads == 1
    vectors = minilm.encode(["The council brokered the deal.", "Fighters left the city."])
    assert torch.get_num_threads() == cores
    assert vectors.shape == (2, 384)
    # a passage embedded alone (one thread, float32) matches its row of the batch
    assert float(minilm.encode(["The council brokered the deal."])[0] @ vectors[0]) > 0.999


def test_bfloat16_batches_stay_within_rounding_of_float32(minilm):
    from index.embeddings import SentenceTransformerEmbeddings

    texts = ["The council and tribal elders brokered the deal.", "Fighters left Raqqa in a convoy of buses."]
    exact, half = minilm.with_precision("float32"), minilm.with_precision("bfloat16")  # same weights, no second load
    assert half.batch_bf16 and not exact.batch_bf16
    a, b = exact.encode(texts), half.encode(texts)
    assert a.dtype == b.dtype == np.float32
    cosines = (a * b).sum(axis=1)
    assert cosines.min() > 0.999
    assert not np.array_equal(a, b)  # bfloat16 really ran
    with pytest.raises(ConfigError):
        SentenceTransformerEmbeddings(precision="float16")


class RecordingReranker(Reranker):
    def rank(self, question, candidates, as_of):
        self.__dict__.setdefault("seen", []).append(dict(candidates))
        return super().rank(question, candidates, as_of)


def test_the_reranker_reads_real_cosines_for_every_candidate(real_index):
    """A passage only lexical search found is scored with its own stored vector's cosine, not 0."""
    real_index.add([sample_article()])
    reranker = RecordingReranker(**vars(Reranker.load()))
    retriever = HybridRetriever(index=real_index, k=3, fetch_k=2, rerank_depth=2, reranker=reranker)
    question = "Who is Talal Selo?"
    found = retriever.search(question)
    assert any("SDF spokesman Talal Selo told Reuters" in p.text for p in found)
    [candidates] = reranker.seen
    vector = retriever.embed_question(question)
    dense = {pid for pid, _ in real_index.dense_search(vector, 2)}
    lexical_only = [pid for pid in candidates if pid not in dense]
    assert lexical_only, "the two indexes found the same passages: the test needs a question they disagree on"
    stored = real_index.vectors.vectors(list(candidates))
    for pid, candidate in candidates.items():
        expected = float(stored[pid] @ vector / (np.linalg.norm(stored[pid]) * np.linalg.norm(vector)))
        assert candidate.cosine == pytest.approx(expected, abs=1e-4)
