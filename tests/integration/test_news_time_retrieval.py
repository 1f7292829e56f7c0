"""News-time preference on a real index (bundled MiniLM, embedded Chroma, SQLite BM25): two weeks'
near-identical stories about the same evacuation, and questions asked on different days."""

import pytest

from assistant.rerank import Reranker
from assistant.retriever import HybridRetriever
from core.settings import Settings
from index.documents import Article
from index.store import ArticleIndex, Filters

STORY = ("Storm {storm} flooded the riverside district of Marlow on {day}. Mayor {mayor} ordered the evacuation "
         "of the riverside district as the river rose, officials said. Volunteers filled sandbags near the old "
         "bridge through the night. The council opened the school gym as a shelter for displaced families. "
         "Forecasters expect more rain over the {region} hills before the weekend.")
EARLY = Article(STORY.format(storm="Elsa", day="Monday", mayor="Ana Ruiz", region="northern"),
                "Marlow evacuates riverside district", "wire-early", published="2023-01-02", key="early")
LATE = Article(STORY.format(storm="Fabian", day="Tuesday", mayor="Ben Okafor", region="western"),
               "Marlow evacuates riverside district again", "wire-late", published="2023-01-10", key="late")
OTHERS = [
    Article("The central bank raised interest rates by a quarter point. Markets had expected the move. Bond "
            "yields rose slightly after the announcement.", "Bank raises rates", "wire-bank", published="2022-11-20", key="bank"),
    Article("The city orchestra announced its spring season. Tickets go on sale next month. The conductor will "
            "lead three premieres.", "Orchestra season", "wire-music", published="2023-01-09", key="music"),
    Article("A new bridge over the river will open in March, the transport office said. Construction ran two "
            "months late because of floods.", "Bridge to open", "wire-bridge", key="bridge"),  # no date
]


@pytest.fixture(scope="module")
def index(tmp_path_factory, minilm):
    index = ArticleIndex.from_settings(Settings(data_dir=tmp_path_factory.mktemp("news-time"), _env_file=None),
                                       embeddings=minilm)
    index.add([EARLY, LATE, *OTHERS])
    yield index
    index.close()


@pytest.fixture(params=["fused", "reranked"])
def ranking(request) -> dict:
    """Each behaviour holds for the fused order and for the reranker (the default)."""
    return {"reranker": Reranker.load()} if request.param == "reranked" else {}


def sources(passages) -> list[str]:
    return [p.source for p in passages]


def test_this_week_question_takes_the_story_of_the_week_it_is_asked_in(index, ranking):
    retriever = HybridRetriever(index=index, k=3, **ranking)
    question = "Which mayor ordered the evacuation of the riverside district this week?"
    asked_in_second_week = retriever.search(question, filters=Filters(as_of="2023-01-12"))
    asked_in_first_week = retriever.search(question, filters=Filters(as_of="2023-01-04"))
    assert sources(asked_in_second_week)[0] == "wire-late"
    assert sources(asked_in_first_week)[0] == "wire-early"  # the later story is not yet published then


def test_the_date_ranks_but_filters_nothing(index, ranking):
    retriever = HybridRetriever(index=index, k=5, **ranking)
    found = retriever.search("Which mayor ordered the evacuation this week?", filters=Filters(as_of="2023-01-04"))
    assert {"wire-early", "wire-late"} <= set(sources(found))  # the later story is still there, only lower


def test_without_time_words_both_weeks_stay_in_reach_and_a_clear_match_wins_over_a_newer_one(index, ranking):
    retriever = HybridRetriever(index=index, k=3, **ranking)
    plain = retriever.search("Which mayor ordered the evacuation of the riverside district?", filters=Filters(as_of="2023-01-12"))
    assert {"wire-early", "wire-late"} <= set(sources(plain))
    named = retriever.search("Which mayor ordered the evacuation when Storm Elsa flooded Marlow?", filters=Filters(as_of="2023-01-12"))
    assert sources(named)[0] == "wire-early"  # the tie-break for the newer story does not outweigh the match


def test_without_a_date_in_the_index_or_the_time_preference_off_the_ranking_is_plain_fusion(index):
    question = "Which mayor ordered the evacuation of the riverside district this week?"
    off = HybridRetriever(index=index, k=5, recency="off").search(question, filters=Filters(as_of="2023-01-12"))
    plain = HybridRetriever(index=index, k=5, recency="off").search(question)
    assert [p.passage_id for p in off] == [p.passage_id for p in plain]
    assert [p.score for p in off] == sorted((p.score for p in off), reverse=True)


def test_hard_window_puts_the_window_first_and_falls_back_to_the_rest(index, ranking):
    retriever = HybridRetriever(index=index, k=5, recency="window", recency_window_days=3, **ranking)
    found = retriever.search("Which mayor ordered the evacuation this week?", filters=Filters(as_of="2023-01-12"))
    published = [p.published for p in found]
    in_window = [day is not None and "2023-01-09" <= day <= "2023-01-13" for day in published]
    assert in_window[0] and in_window == sorted(in_window, reverse=True)  # the window first
    assert len(found) == 5 and not all(in_window)  # then the rest, so k passages still come back


def test_with_the_time_preference_off_the_reranker_ignores_dates_too(index):
    question = "Which mayor ordered the evacuation of the riverside district this week?"
    retriever = HybridRetriever(index=index, k=5, recency="off", reranker=Reranker.load())
    dated = retriever.search(question, filters=Filters(as_of="2023-01-12"))
    undated = retriever.search(question, filters=Filters(as_of="2023-01-04"))
    assert [p.passage_id for p in dated] == [p.passage_id for p in undated]
