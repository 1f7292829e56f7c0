"""The engine's contract with fake parts handed in (STYLE: pass parts in, with defaults). The fakes, and
the `TEXT` they retrieve from, are in tests/support.py: the limits tests hand in the same ones."""

import pytest

from assistant.answering.base import NOT_FOUND, Answer, Draft, RetrievedPassage
from assistant.answering.extractive.confidence import calibrated_threshold
from assistant.answering.factory import make_answerer
from assistant.condense import rule_based, with_short_answer
from assistant.engine import AnswerEngine
from core.errors import BadInput, ConfigError
from core.settings import Settings
from tests.support import TEXT, FakeAnswerer, FakeRetriever, engine


def test_contract_with_citation_offsets_into_the_article():
    result = engine().ask("Who brokered the deal?")
    assert result["abstained"] is False and result["short_answer"] == "the council and tribal elders"
    [c] = result["citations"]
    assert TEXT[c["start"] : c["end"]] == c["evidence"] and c["n"] == 1 and "[1]" in result["answer"]
    assert set(result["timings"]) == {"condense_ms", "embed_ms", "retrieve_ms", "answer_ms", "total_ms"}
    assert result["mode"] == "extractive" and result["standalone_question"] == "Who brokered the deal?"


def test_the_typed_answer_is_the_contract_in_its_key_order_and_rounding():
    e = AnswerEngine(FakeRetriever(), FakeAnswerer(0.123456789), abstain_threshold=0.1, clock=iter(range(0, 100, 3)).__next__)
    answer = e.answer("Who brokered the deal?")
    assert isinstance(answer, Answer) and answer.confidence == 0.123456789
    result = answer.to_dict()
    assert list(result) == ["question", "standalone_question", "answer", "short_answer", "abstained", "confidence",
                            "citations", "mode", "timings"]
    assert result["confidence"] == 0.1235 and result["timings"]["total_ms"] == 21000.0
    assert list(result["citations"][0]) == ["n", "doc_id", "title", "source", "published", "passage", "passage_start",
                                            "evidence", "start", "end"]
    assert result["citations"][0]["passage"] == answer.citations[0].passage and result["citations"][0]["passage_start"] == 21
    [*_, last] = e.stream("Who brokered the deal?")
    assert set(last) == {"event", "answer"} and isinstance(last["answer"], Answer)


def test_the_abstain_threshold_defaults_to_the_fitted_one():
    assert AnswerEngine(FakeRetriever(), FakeAnswerer(0.9)).abstain_threshold == calibrated_threshold() == 0.195


def test_an_unknown_answer_mode_names_the_valid_ones():
    settings = Settings(_env_file=None).model_copy(update={"answer_mode": "gpt"})
    with pytest.raises(ConfigError, match="valid modes: auto, reader, extractive, openai, llamacpp"):
        make_answerer(settings)


def test_low_confidence_abstains_plainly():
    result = engine(confidence=0.2).ask("What is the capital of Australia?")
    assert result == {**result, "abstained": True, "answer": NOT_FOUND, "citations": [], "short_answer": None}


def test_stream_sends_rewrite_then_text_then_answer():
    events = list(engine().stream("Who brokered the deal?"))
    assert [e["event"] for e in events] == ["rewrite", "token", "answer"]
    answer = events[2]["answer"]
    # extractive text is sent after the abstain check, its short answer on a first line
    assert events[1]["text"] == f"Short answer: {answer.short_answer}\n\n{answer.answer}"


@pytest.mark.parametrize("question,k", [("", None), ("   ", None), ("x" * 2001, None), ("ok?", 0), ("ok?", 51), ("ok\ud800?", None)])
def test_bad_input_is_a_clear_error(question, k):
    with pytest.raises(BadInput):
        engine().ask(question, k=k)


@pytest.mark.parametrize("history,problem", [
    ([{"role": "user", "content": "Raqqa " * 150000}], "history turn 1 is 900,000 characters long; the limit is 20,000"),
    ([["Who is Talal Selo?", "An SDF spokesman \udfff"]], "history turn 2 contains a lone surrogate"),
])
def test_bad_history_is_a_clear_error(history, problem):
    with pytest.raises(BadInput, match=problem):
        engine().ask("What did he say?", history=history)


def test_follow_up_is_rewritten_before_retrieval():
    e = engine()
    result = e.ask("What did he say about the evacuation?", history=[["Who is Talal Selo?", "An SDF spokesman [1]"]])
    assert result["standalone_question"] == "What did Talal Selo say about the evacuation?"
    assert e.retriever.searched[-1] == result["standalone_question"]


def test_rule_based_condense_leaves_standalone_questions_alone():
    assert rule_based("Where is Raqqa?", [["Who is Talal Selo?", "x"]]) == "Where is Raqqa?"
    assert rule_based("What did she deny?", [{"role": "user", "content": "Who is Laila Mostafa?"}]) == "What did Laila Mostafa deny?"
    assert rule_based("What was his role?", [["Tell me about Ryan Dillon", "x"]]) == "What was Ryan Dillon's role?"
    assert rule_based("What did he say?", None) == "What did he say?"


def test_a_pronoun_for_a_person_resolves_to_a_person_and_keeps_its_referent():
    history = [["Who won the Dunmore election?", with_short_answer("Maria Castell was elected mayor [1]", "Maria Castell")],
               ["How many votes did she get?", with_short_answer("Castell won 9,874 votes [1]", "9,874")]]
    assert rule_based("Who did she beat?", history) == "Who did Maria Castell beat?"  # a name, not "9,874"
    history.append(["Who did she beat?", with_short_answer("beating Tom Avery [1]", "Tom Avery")])
    assert rule_based("How long had he led the town?", history) == "How long had Tom Avery led the town?"
    history.append(["How long had he led the town?", with_short_answer("for eight years [1]", "eight years")])
    # she was Maria Castell two questions ago; Tom Avery, answered since, is he
    assert rule_based("When will she take office?", history) == "When will Maria Castell take office?"
    assert rule_based("What did it cost?", history[:1]) == "What did Dunmore cost?"  # it: the question's name


def test_extractive_answer_drops_the_second_sentence_when_it_would_run_long():
    from assistant.answering.extractive.answerer import EvidenceSentence, ExtractiveAnswerer, ExtractiveResult

    long_one = "word " * 60
    text = f"First fact here. {long_one.strip()}."

    class TwoSentences:
        def answer(self, question, passages, question_vector=None):
            second = text.index("word")
            return ExtractiveResult([EvidenceSentence(0, 0, 16, text[:16], 1.0),
                                     EvidenceSentence(0, second, len(text), text[second:], 0.5)], "x", 0.9)

    passage = RetrievedPassage(passage_id="p1", doc_id="d1", title="T", source="s", published=None, text=text, start=0,
                               sentences=[(0, 16), (17, len(text))])
    draft = ExtractiveAnswerer(extractor=TwoSentences()).draft("q?", [passage])
    assert draft.answer == "First fact here. [1]" and len(draft.evidence) == 1


class ReadingAnswerer(FakeAnswerer):
    """Like the reader: evidence first (provisional), then the final draft; counts its calls."""

    mode = "reader"

    def __init__(self, confidence):
        super().__init__(confidence)
        self.calls = 0

    def stream(self, question, passages, question_vector=None):
        self.calls += 1
        *_, final = super().stream(question, passages, question_vector)
        yield Draft(final.answer, final.evidence, "provisional guess", 0.01, provisional=True)
        yield final


class Generations:
    """An index whose generation the test moves, as a write would."""

    def __init__(self):
        self.value = 0

    def generation(self):
        return self.value


def test_the_reader_sends_its_evidence_before_the_short_answer():
    events = list(AnswerEngine(FakeRetriever(), ReadingAnswerer(0.9), abstain_threshold=0.5).stream("Who brokered the deal?"))
    assert [e["event"] for e in events] == ["rewrite", "evidence", "token", "answer"]
    shown, final = events[1]["answer"], events[-1]["answer"]
    assert shown.short_answer is None and not shown.abstained and shown.citations == final.citations  # not judged yet
    assert final.short_answer == "the council and tribal elders" and "evidence_ms" in final.timings


def test_answers_are_cached_until_the_index_changes():
    retriever, answerer = FakeRetriever(), ReadingAnswerer(0.9)
    retriever.index = Generations()
    e = AnswerEngine(retriever, answerer, abstain_threshold=0.5, cache_size=2)
    first = e.answer("Who brokered the deal?")
    again = e.answer("Who brokered the deal?")
    assert answerer.calls == 1 and again.timings.get("cached") == 1.0 and again.answer == first.answer
    retriever.index.value += 1  # an article added or deleted
    e.answer("Who brokered the deal?")
    assert answerer.calls == 2
    e.answer("Who else?"), e.answer("And who else?"), e.answer("Who brokered the deal?")
    assert answerer.calls == 5  # two entries kept: the oldest went first
