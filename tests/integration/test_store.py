"""The index with the fake embedding: idempotence, replacement, deletion, lexical search, filters. Every
test runs on both catalogs: the SQLite file and a real PostgreSQL server."""

import pytest

from index.documents import Article
from index.store import Filters


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path):
    """Overrides conftest's: the same tests against each catalog backend."""
    from core.settings import Settings

    url = request.getfixturevalue("database_url") if request.param == "postgresql" else None
    return Settings(data_dir=tmp_path / "data", database_url=url, _env_file=None)


def run_sql(catalog, sql: str) -> None:
    """A raw statement on either backend, for tests that fake an older index."""
    if catalog.backend == "sqlite":
        catalog._conn().execute(sql)
    else:
        with catalog._connection("test") as conn:
            conn.execute(sql)


def article(text, key="a", title="Title", published=None, source=None):
    return Article(text=text, title=title, source=source or key, published=published, key=key)


def consistent(index):
    catalog_ids = index.catalog.passage_ids()
    chroma_ids = index.vectors.ids()
    assert len(chroma_ids) == len(set(chroma_ids)), "duplicate vectors"
    assert set(chroma_ids) == catalog_ids, "vector and lexical indexes disagree"
    assert index.catalog.pending() == []
    return len(catalog_ids)


def test_same_article_twice_adds_nothing(fake_index):
    a = article("The council brokered the deal. Elders agreed to it. The fighters left.")
    first = fake_index.add([a])
    second = fake_index.add([a])
    assert [o.status for o in first] == ["added"]
    assert [o.status for o in second] == ["unchanged"]
    assert consistent(fake_index) == first[0].passages


def test_changed_article_replaces_old_passages_everywhere(fake_index):
    fake_index.add([article("Old text about apples. " * 3 + "Bananas are yellow.")])
    outcome = fake_index.add([article("New text about cherries. Grapes are purple.")])
    assert outcome[0].status == "replaced"
    consistent(fake_index)
    assert fake_index.lexical_search("apples", 5) == []
    assert fake_index.lexical_search("cherries", 5)
    docs = fake_index.documents()
    assert len(docs) == 1 and docs[0]["passages"] == outcome[0].passages


def test_delete_removes_from_both_indexes(fake_index):
    a, b = article("Alpha story here.", key="a"), article("Beta story here.", key="b")
    fake_index.add([a, b])
    assert fake_index.delete(a.doc_id) is True
    assert fake_index.delete(a.doc_id) is False
    assert consistent(fake_index) == 1
    assert [d["doc_id"] for d in fake_index.documents()] == [b.doc_id]


def test_lexical_search_is_robust_to_stripped_apostrophes(fake_index):
    fake_index.add([article("U.S.-backed militias launched the final assault on Syria s Raqqa on Sunday.")])
    hits = fake_index.lexical_search("What happened in Syria's Raqqa?", 5)
    assert len(hits) == 1
    assert fake_index.lexical_search("the of and", 5) == []


def test_filters_by_source_and_date(fake_index):
    fake_index.add([
        article("Storm hits the coast.", key="x", source="wire-a", published="2023-01-05"),
        article("Storm hits the city.", key="y", source="wire-b", published="2023-03-01"),
    ])
    vector = fake_index.embeddings.encode(["storm"])[0]
    for search in (lambda f: fake_index.lexical_search("storm", 5, f), lambda f: fake_index.dense_search(vector, 5, f)):
        assert len(search(None)) == 2
        only_a = fake_index.passages(pid for pid, _ in search(Filters(sources=["wire-a"])))
        assert {p["source"] for p in only_a.values()} == {"wire-a"}
        late = fake_index.passages(pid for pid, _ in search(Filters(published_from="2023-02-01")))
        assert {p["published"] for p in late.values()} == {"2023-03-01"}
        assert search(Filters(published_to="2022-12-31")) == []


def test_uncommitted_vectors_are_invisible_and_reconciled(fake_index):
    """A crash between the Chroma write and the catalog commit leaves vectors nobody sees."""
    from index.chunker import chunk_article

    a = article("Half written story about volcanoes.")
    passages = chunk_article(a)
    fake_index.catalog.mark_pending(a.doc_id, a.version)
    fake_index.vectors.add_rows(passages, fake_index.embeddings.encode([p.text for p in passages]),
                                [a.metadata()] * len(passages))
    hits = fake_index.dense_search(fake_index.embeddings.encode(["volcanoes"])[0], 5)
    assert hits and fake_index.passages(pid for pid, _ in hits) == {}
    assert fake_index.reconcile() == 1
    consistent(fake_index)
    assert fake_index.vectors.count() == 0


@pytest.mark.parametrize("bad", ["", "   \n  "])
def test_article_without_sentences_indexes_no_passage(fake_index, bad):
    outcome = fake_index.add([article(bad or " ", key="empty")])
    assert outcome[0].passages == 0
    consistent(fake_index)


def test_lexical_search_ranks_the_same_with_and_without_the_filter_path(fake_index):
    """The unfiltered search ranks in the FTS table alone; a filter that keeps everything must agree."""
    fake_index.add([article(f"Story {n} about the storm near Leeds. " + "The river rose. " * n, key=f"k{n}", source="wire")
                    for n in range(1, 6)] + [article("Quiet day in Leeds.", key="q", source="wire")])
    plain = fake_index.lexical_search("storm river", 20)
    filtered = fake_index.lexical_search("storm river", 20, Filters(sources=["wire"]))
    assert len(plain) >= 5
    assert sorted((round(s, 9), pid) for pid, s in plain) == sorted((round(s, 9), pid) for pid, s in filtered)
    assert [s for _, s in plain] == sorted((s for _, s in plain), reverse=True)


@pytest.fixture
def sqlite_index(tmp_path, fake_embeddings):
    from core.settings import Settings
    from index.store import ArticleIndex

    return ArticleIndex.from_settings(Settings(data_dir=tmp_path / "sqlite", _env_file=None), embeddings=fake_embeddings)


def test_rare_terms_keep_the_rarest_and_drop_common_words_on_large_collections(sqlite_index):
    """The SQLite catalog's term selection, step by step (the test below covers both backends)."""
    fake_index = sqlite_index
    texts = [f"Report number {n} on the weather." for n in range(40)] + ["Report on the Hamlin injury."]
    fake_index.add([article(text, key=f"r{n}") for n, text in enumerate(texts)])
    catalog = fake_index.catalog
    terms = ["hamlin", "injury", "report", "weather"]
    # small collections keep every word: pruning only exists to bound the cost on large ones
    assert catalog._rare_terms(terms, keep=2) == terms
    # "report" is in every passage, "weather" in most: both go; the rare ones stay, rarest first
    assert sorted(catalog._rare_terms(terms, keep=8, small=10)) == ["hamlin", "injury"]
    assert len(catalog._rare_terms(terms, keep=1, small=10)) == 1
    # when every word is common, the two rarest are still searched
    assert sorted(catalog._rare_terms(["report", "weather"], keep=8, small=10)) == ["report", "weather"]
    hits = catalog.lexical_search("Hamlin injury report", 5, max_terms=8)
    assert "Hamlin" in catalog.passages([hits[0][0]])[hits[0][0]]["text"]  # small: every word searched, rare wins


def test_rare_lexemes_leave_out_common_words_on_large_collections(fake_index):
    """Searching only the rarest words, as seen from outside: the same on both backends."""
    texts = [f"Report number {n} on the weather." for n in range(40)] + ["Report on the Hamlin injury."]
    fake_index.add([article(text, key=f"r{n}") for n, text in enumerate(texts)])
    catalog = fake_index.catalog
    everything = catalog.lexical_search("Hamlin injury report weather", 50, max_terms=8)
    assert len(everything) == 41  # small: every word searched
    assert "Hamlin" in catalog.passages([everything[0][0]])[everything[0][0]]["text"]
    pruned = catalog.lexical_search("Hamlin injury report weather", 50, max_terms=8, small=10)
    assert [catalog.passages([pid])[pid]["text"] for pid, _ in pruned] == ["Report on the Hamlin injury."]
    # when every word is common, the two rarest are still searched
    assert len(catalog.lexical_search("report weather", 50, max_terms=8, small=10)) == 41


def test_an_index_refuses_a_second_embedding_model(settings):
    from core.errors import ConfigError
    from index.embeddings import HashEmbeddings
    from index.store import ArticleIndex

    first = ArticleIndex.from_settings(settings, embeddings=HashEmbeddings(64))
    first.add([article("The council brokered the deal.")])
    same = ArticleIndex.from_settings(settings, embeddings=HashEmbeddings(64))
    assert same.dense_search(same.embeddings.encode(["deal"])[0], 5)

    other = ArticleIndex.from_settings(settings, embeddings=HashEmbeddings(32))
    with pytest.raises(ConfigError, match="hash:64.*hash:32"):
        other.add([article("Another story.", key="b")])
    with pytest.raises(ConfigError, match="new --data-dir"):
        other.dense_search(other.embeddings.encode(["deal"])[0], 5)
    assert len(first.documents()) == 1


def test_an_index_without_a_recorded_model_adopts_the_current_one(fake_index):
    fake_index.add([article("The council brokered the deal.")])
    run_sql(fake_index.catalog, "DELETE FROM meta")  # as written before models were recorded
    reopened = type(fake_index)(fake_index.catalog, fake_index.vectors, fake_index.embeddings)
    assert reopened.dense_search(reopened.embeddings.encode(["deal"])[0], 5)
    assert fake_index.catalog.get_meta("embedding_model") == fake_index.embeddings.identity


def test_two_first_writers_with_different_models_cannot_both_record(settings, monkeypatch):
    from core.errors import ConfigError
    from index.embeddings import HashEmbeddings
    from index.store import ArticleIndex

    first = ArticleIndex.from_settings(settings, embeddings=HashEmbeddings(64))
    second = ArticleIndex.from_settings(settings, embeddings=HashEmbeddings(32))
    first.add([article("The council brokered the deal.")])
    # the second read the empty record just before the first wrote it
    monkeypatch.setattr(second.catalog, "get_meta", lambda key: None)
    with pytest.raises(ConfigError, match="hash:64.*hash:32"):
        second.add([article("Another story.", key="b")])
    monkeypatch.undo()
    assert second.catalog.get_meta("embedding_model") == "hash:64"


def test_passage_total_follows_writes_here_and_elsewhere(fake_index, settings):
    from index.catalog import SQLiteCatalog, open_catalog

    catalog = fake_index.catalog
    assert catalog.passage_total() == 0
    outcome = fake_index.add([article("The council brokered the deal. Elders agreed.")])
    assert catalog.passage_total() == outcome[0].passages  # our own write: recounted at once
    if catalog.backend == "sqlite":
        elsewhere = SQLiteCatalog(catalog.path)  # as another process would see the same file
        assert elsewhere.passage_total() == outcome[0].passages
        fake_index.delete(outcome[0].doc_id)
        assert elsewhere.passage_total() == outcome[0].passages  # cached there for a few seconds...
        assert elsewhere.passage_total(max_age=0) == 0  # ...then counted again
    else:
        elsewhere = open_catalog(settings.data_dir, settings.database_url)  # another replica
        assert elsewhere.passage_total() == outcome[0].passages
        before = elsewhere.generation()
        fake_index.delete(outcome[0].doc_id)
        assert elsewhere.passage_total() == 0  # a counter the writer keeps: current at once
        assert elsewhere.generation() != before
        elsewhere.close()


def test_reembed_switches_an_index_to_another_model(settings):
    from index.embeddings import HashEmbeddings
    from index.store import ArticleIndex

    old = ArticleIndex.from_settings(settings, embeddings=HashEmbeddings(64))
    old.add([article("The council brokered the deal. Elders agreed.", key="a"),
             article("Volcanoes erupted on the island overnight.", key="b")])
    new = ArticleIndex.from_settings(settings, embeddings=HashEmbeddings(32))
    seen = []
    assert new.reembed(batch_documents=1, progress=seen.append) == consistent(new)
    assert seen[-1] == consistent(new) and len(seen) >= 2
    assert new.catalog.get_meta("embedding_model") == "hash:32"
    [best, *_] = new.dense_search(new.embeddings.encode(["volcanoes island"])[0], 5)
    assert new.passages([best[0]])[best[0]]["text"].startswith("Volcanoes")


def test_an_interrupted_reembed_blocks_queries_until_run_again(settings):
    from core.errors import ConfigError
    from index.embeddings import HashEmbeddings
    from index.store import ArticleIndex

    ArticleIndex.from_settings(settings, embeddings=HashEmbeddings(64)).add(
        [article(f"Story number {i} about the harbour.", key=str(i)) for i in range(3)])

    class Crashing(HashEmbeddings):
        calls = 0

        def encode(self, texts):
            Crashing.calls += 1
            if Crashing.calls == 2:
                raise KeyboardInterrupt  # as if the user pressed Ctrl-C halfway
            return super().encode(texts)

    crashing = ArticleIndex.from_settings(settings, embeddings=Crashing(32))
    with pytest.raises(KeyboardInterrupt):
        crashing.reembed(batch_documents=1)
    new = ArticleIndex.from_settings(settings, embeddings=HashEmbeddings(32))
    with pytest.raises(ConfigError, match="reindex` again"):
        new.dense_search(new.embeddings.encode(["harbour"])[0], 5)
    with pytest.raises(ConfigError, match="reindex` again"):
        new.add([article("A new story.", key="new")])
    assert new.reembed() == consistent(new)
    assert len(new.dense_search(new.embeddings.encode(["harbour"])[0], 5)) == 3


def test_passage_vectors_are_the_stored_ones(fake_index, fake_embeddings):
    fake_index.add([article("The council brokered the deal. Elders agreed to it.", key="a")])
    pid, score = fake_index.dense_search(fake_embeddings.encode(["council deal"])[0], 1)[0]
    vectors = fake_index.vectors.vectors([pid, "no-such-passage"])
    assert list(vectors) == [pid]
    question = fake_embeddings.encode(["council deal"])[0]
    cosine = float(vectors[pid] @ question / ((vectors[pid] @ vectors[pid]) ** 0.5 * (question @ question) ** 0.5))
    assert cosine == pytest.approx(score, abs=1e-4)


def test_ingest_with_a_progress_bar_reports_every_article(fake_index, capsys):
    """The bar (shown on a terminal) has no total: its truth value must not be asked (tqdm raises)."""
    from index.ingest import ingest

    articles = [article(f"Story {n} happened. It was on Monday.", key=f"k{n}") for n in range(3)]
    summary = ingest(fake_index, articles, batch_size=2, progress=True)
    assert (summary.added, summary.failed) == (3, 0)
    assert "3article" in capsys.readouterr().err.replace(" ", "")
