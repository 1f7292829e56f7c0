"""`app.py copy-catalog`: an embedded index moves to the PostgreSQL catalog without re-embedding, and
then searches and answers as it did."""

import pytest

from assistant.cli import main
from core.settings import Settings
from index.documents import Article
from index.store import ArticleIndex

ARTICLES = [
    Article(title="Ferry terminal opens", text="The Kestrel Point ferry terminal cost 84 million dollars. "
            "It opened on Monday after three years of work. Mayor Ann Lee said the crossings would run hourly.",
            source="ferry.txt", published="2026-11-02", author="R. Ames"),
    Article(title="Harbour festival", text="The lantern festival drew 40,000 visitors to the harbour. "
            "Zarkov said it would return next spring.", source="festival.txt", published="2026-10-20"),
    Article(title="Empty", text=" ", source="empty.txt"),
]
QUESTIONS = ["How much did the Kestrel Point ferry terminal cost?", "Who said the festival would return?",
             "When did the terminal open?"]


@pytest.fixture
def embedded(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", embedding_model="hash", _env_file=None)
    index = ArticleIndex.from_settings(settings)
    index.add(ARTICLES)
    before = {q: index.lexical_search(q, 10) for q in QUESTIONS}
    vector = index.embeddings.encode([QUESTIONS[0]])[0]
    dense = index.dense_search(vector, 10)
    documents = index.documents()
    index.close()
    return settings, before, (vector, dense), documents


def test_a_copied_catalog_searches_as_the_embedded_one_did(embedded, database_url, capsys):
    settings, before, (vector, dense), documents = embedded
    assert main(["copy-catalog", "--data-dir", str(settings.data_dir), "--to", database_url, "--quiet"]) == 0
    assert "copied 3 documents" in capsys.readouterr().out

    shared = ArticleIndex.from_settings(settings.model_copy(update={"database_url": database_url}))
    try:
        assert shared.catalog.backend == "postgresql"
        found = shared.check()
        assert found.ok and found.passages == found.vectors > 0, found.line()
        assert shared.documents() == [{**d, "ingested_at": shared.document(d["doc_id"])["ingested_at"]} for d in documents]
        for question, hits in before.items():
            copied = shared.lexical_search(question, 10)
            assert [pid for pid, _ in copied] == [pid for pid, _ in hits], question
            assert [round(s, 6) for _, s in copied] == [round(s, 6) for _, s in hits], question
        assert shared.dense_search(vector, 10) == dense  # the same vectors, now joined to PostgreSQL's passages
        ferry = next(d for d in shared.documents() if d["title"] == "Ferry terminal opens")
        assert shared.document(ferry["doc_id"])["author"] == "R. Ames"
    finally:
        shared.close()

    # run again (as after an interruption): nothing to do
    assert main(["copy-catalog", "--data-dir", str(settings.data_dir), "--to", database_url, "--quiet"]) == 0
    assert "copied 0 documents (0 passages), 3 already there" in capsys.readouterr().out


def test_copying_into_an_index_of_another_embedding_model_is_refused(embedded, database_url, tmp_path, capsys):
    settings, *_ = embedded
    other = ArticleIndex.from_settings(Settings(data_dir=tmp_path / "other", embedding_model="hash", _env_file=None,
                                                database_url=database_url), embeddings=None)
    other.catalog.set_meta("embedding_model", "bundled:all-MiniLM-L6-v2")
    other.close()
    assert main(["copy-catalog", "--data-dir", str(settings.data_dir), "--to", database_url, "--quiet"]) == 2
    assert "copy into an empty database" in capsys.readouterr().err


def test_copy_catalog_names_a_missing_index(tmp_path, database_url, capsys):
    assert main(["copy-catalog", "--data-dir", str(tmp_path / "nothing"), "--to", database_url]) == 2
    assert "no catalog at" in capsys.readouterr().err
