"""The reader mode with the real default bundled model (Qwen2.5-Coder-1.5B through xllamacpp), the real
MiniLM and an embedded Chroma, on a made-up article with the questions issue 10 found answered
wrong: every one must be answered right or plainly not found.

Needs requirements-llamacpp.txt and requirements-reader.txt (scripts/test.sh installs both);
NEWSQA_SKIP_READER=1 skips it where they are left out on purpose."""

import os

import pytest

from assistant.condense import with_short_answer
from assistant.engine import AnswerEngine
from index.ingest import ensure_sample
from index.store import ArticleIndex
from tests.support import make_settings

pytestmark = pytest.mark.skipif(os.environ.get("NEWSQA_SKIP_READER") == "1", reason="NEWSQA_SKIP_READER=1")

ARTICLE = """# Port Elwyn opens its new ferry terminal

PORT ELWYN — The new ferry terminal in Port Elwyn opened on Tuesday after three years of construction. The terminal cost 84 million dollars, paid for by the regional government and a port levy.

Ingrid Halvorsen, the harbour master, said the terminal would double the number of daily crossings. "We have waited a long time for this," Halvorsen said.

Mayor Tomas Reid thanked the builders. The deal to fund the terminal was brokered by the regional council and the island's fishing cooperative in 2023. Under the deal, they agreed to share the port levy for twenty years.

Critics said the fares were still too high. "This is the final battle for fair fares," said Omar Alloush, a spokesman for the Ferry Users Association.
"""


STORM = """# Storm cuts power to 40,000 homes in Lakeview

A winter storm knocked out power to about 40,000 homes in Lakeview on Sunday night. Northgrid Energy said crews had restored power to most customers by Monday afternoon. Two schools stayed closed on Monday. No injuries were reported.
"""


LIBRARY = """# Riverside council approves new library

RIVERSIDE — The Riverside city council voted 5-2 on Monday to build a new central library for 31.5 million dollars. Mayor Delia Fuentes, who proposed the plan, said construction will start in March 2027. Councillor Brian Osei, who voted against the plan, said the city could not afford it.
"""


@pytest.fixture(scope="module")
def reader_engine(tmp_path_factory, minilm):
    yield from engine_on(ARTICLE, tmp_path_factory, minilm)


@pytest.fixture(scope="module")
def storm_engine(tmp_path_factory, minilm):
    yield from engine_on(STORM, tmp_path_factory, minilm)


@pytest.fixture(scope="module")
def library_engine(tmp_path_factory, minilm):
    yield from engine_on(LIBRARY, tmp_path_factory, minilm)


def engine_on(text, tmp_path_factory, minilm):
    folder = tmp_path_factory.mktemp("reader")
    article = folder / "article.md"
    article.write_text(text, encoding="utf-8")
    settings = make_settings(folder / "data", sample_path=article, answer_mode="reader",
                             model_cache_dir=tmp_path_factory.getbasetemp().parent / "newsqa-models")
    index = ArticleIndex.from_settings(settings, embeddings=minilm)
    ensure_sample(index, article)
    engine = AnswerEngine.from_settings(settings, index=index)
    yield engine, ARTICLE_TEXT(index)
    engine.close()
    index.close()


def ARTICLE_TEXT(index) -> str:  # noqa: N802 - the stored text, which citations point into
    return index.document(index.documents()[0]["doc_id"])["text"]


def check_citations(answer, text):
    for c in answer.citations:
        assert text[c.start:c.end] == c.evidence


def test_amounts_come_from_the_model_and_are_article_text(reader_engine):
    engine, text = reader_engine
    answer = engine.answer("How much did the ferry terminal cost?")
    assert answer.mode == "reader" and not answer.abstained
    assert "84 million" in answer.short_answer and answer.short_answer in answer.citations[0].evidence
    check_citations(answer, text)


@pytest.mark.parametrize("question,right", [
    ("Who is Ingrid Halvorsen?", "harbour master"),
    ("Who said this is the final battle?", "Omar Alloush"),
    ("Who is Omar Alloush?", "spokesman"),
])
def test_who_questions_are_answered_right_or_not_at_all(reader_engine, question, right):
    engine, text = reader_engine
    answer = engine.answer(question)
    # right, or not found, or only the evidence with no short answer claimed (the model repeated the question)
    assert answer.abstained or right in (answer.short_answer or answer.answer), answer.short_answer
    check_citations(answer, text)


def test_who_holds_a_role_is_answered_from_the_sentence_naming_the_role(reader_engine):
    """"Port Elwyn" fills the headline and the lead, so the two sentences the reader reads were those
    until the role noun ("mayor") weighed more than the place; the answer was then not found."""
    engine, text = reader_engine
    answer = engine.answer("Who is the mayor of Port Elwyn?")
    assert "Mayor Tomas Reid" in answer.citations[0].evidence
    assert not answer.abstained and "Tomas Reid" in answer.short_answer, answer.short_answer
    check_citations(answer, text)


def test_asked_who_a_named_person_is_the_answer_is_their_role_not_their_name(reader_engine):
    """The model replies with the name ("Tomas Reid", "Ingrid Halvorsen"); the title or apposition beside
    the name in the cited sentence answers instead."""
    engine, text = reader_engine
    for question, role in (("Who is Tomas Reid?", "Mayor"), ("Who is Ingrid Halvorsen?", "harbour master")):
        answer = engine.answer(question)
        assert not answer.abstained and role in (answer.short_answer or ""), (question, answer.short_answer)
        assert answer.short_answer in answer.citations[0].evidence
        check_citations(answer, text)


def test_what_the_articles_do_not_say_is_not_found(reader_engine):
    engine, _ = reader_engine
    answer = engine.answer("What is the population of Port Elwyn?")
    assert answer.abstained and answer.short_answer is None and not answer.citations


def test_a_number_that_counts_something_else_is_not_found(storm_engine):
    """"40,000" (homes) is in the article, and is not Lakeview's population."""
    engine, text = storm_engine
    answer = engine.answer("What is the population of Lakeview?")
    assert answer.abstained and answer.short_answer is None
    homes = engine.answer("How many homes lost power?")
    assert homes.abstained or "40,000" in homes.short_answer
    check_citations(homes, text)


def test_who_did_what_is_the_person_the_sentence_names_not_the_first_one_named(library_engine):
    """The mayor is named first and proposed the plan; the councillor voted against it (the 0.5B reader
    answered "Mayor Delia Fuentes")."""
    engine, text = library_engine
    against = engine.answer("Who voted against the library?")
    assert against.abstained or "Osei" in against.short_answer, against.short_answer
    cost = engine.answer("How much will the library cost?")
    assert cost.abstained or "31.5 million" in cost.short_answer, cost.short_answer
    check_citations(against, text)
    check_citations(cost, text)


def test_a_follow_up_is_rewritten_from_the_last_answer(reader_engine):
    engine, text = reader_engine
    first = engine.answer("Who brokered the deal?")
    assert first.abstained or "regional council" in first.short_answer
    history = [["Who brokered the deal?", with_short_answer(first.answer, first.short_answer)]]
    answer = engine.answer("What did they agree to?", history=history)
    assert "council" in answer.standalone_question and "agree" in answer.standalone_question
    # A reader may repeat the question here ("brokered by the regional council ...", the 0.5B did): no
    # short answer is claimed then. A claimed one must be right.
    assert answer.abstained or answer.short_answer is None or "port levy" in answer.short_answer, answer.short_answer
    check_citations(answer, text)


def test_the_evidence_arrives_before_the_short_answer(reader_engine):
    engine, text = reader_engine
    events = list(engine.stream("When did the new ferry terminal open?"))
    names = [e["event"] for e in events]
    assert names.index("evidence") < names.index("answer")
    shown, final = events[names.index("evidence")]["answer"], events[-1]["answer"]
    assert shown.citations and shown.short_answer is None
    check_citations(shown, text)
    assert final.abstained or "Tuesday" in final.short_answer


def test_the_runtime_streams_answer_tokens_with_log_probabilities(tmp_path_factory):
    """The real runtime (xllamacpp): one log-probability per token of the answer, as the calibration's
    lp_mean and lp_min read them, and nothing left behind once closed."""
    from assistant.answering.factory import reader_path
    from assistant.answering.reader.runtime import Generation, LlamaReader

    settings = make_settings(tmp_path_factory.mktemp("runtime"), answer_mode="reader",
                             model_cache_dir=tmp_path_factory.getbasetemp().parent / "newsqa-models")
    model = LlamaReader(reader_path(settings, progress=False), threads=2)
    try:
        into = Generation()
        question = [{"role": "user", "content": "The ferry terminal cost 84 million dollars. How much did it cost? "
                                                "Reply with the amount only."}]
        pieces = list(model.generate(question, into, max_tokens=12))
        assert "84" in "".join(pieces) and into.text == "".join(pieces)
        assert 0 < len(into.logprobs) <= 12 and all(lp <= 0.0 for lp in into.logprobs)
        assert into.timings["predicted_n"] >= len(into.logprobs)
        socket_dir = model._socket_dir
        assert socket_dir and os.listdir(socket_dir) == ["llama.sock"]  # its listener: a Unix socket, no TCP port
    finally:
        model.close()
    assert not os.path.exists(socket_dir)

