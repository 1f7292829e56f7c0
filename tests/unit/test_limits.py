"""Every input that reaches a model is bounded by the engine, whichever edge it came through.

The case that made these: a 900 kB history turn made the rule-based rewrite 900 kB long, and that
"question" crashed the spaCy worker (REST /api/ask, found by a hostile tester)."""

import time

import pytest

from assistant import condense
from assistant.condense import rule_based
from assistant.engine import MAX_HISTORY_CHARS, MAX_HISTORY_TURNS, MAX_QUESTION_CHARS, MAX_TURN_CHARS, AnswerEngine
from core.errors import BadInput
from tests.support import FakeAnswerer, FakeRetriever, engine

CAPITALISED_RUN = " ".join(f"Word{i}" for i in range(1000))  # 1,000 capitalised words, ~7,900 characters


class Recorder:
    """A condenser that keeps what it was given."""

    def __init__(self, reply=None):
        self.reply = reply
        self.seen = []

    def __call__(self, question, history):
        self.seen.append(history)
        return question if self.reply is None else self.reply


def test_the_900_kb_history_turn_is_refused_at_once():
    e = engine()
    started = time.perf_counter()
    with pytest.raises(BadInput, match=f"{MAX_TURN_CHARS:,} characters"):
        e.ask("What did he say?", history=[{"role": "user", "content": "Raqqa " * 150000}])
    assert time.perf_counter() - started < 1.0
    assert e.retriever.searched == []  # refused before anything reached a model


def test_a_rule_based_rewrite_never_substitutes_a_run_of_capitalised_words():
    rewritten = rule_based("What did he say?", [{"role": "user", "content": CAPITALISED_RUN}])
    assert rewritten == "What did he say?"  # a thousand words are not a name
    assert rule_based("What did he say?", [{"role": "user", "content": "Raqqa-" * 5000}]) == "What did he say?"
    # a name still is one
    assert rule_based("What did he say?", [{"role": "user", "content": "Who is Mohammed Bin Salman Al Saud?"}]) == \
        "What did Mohammed Bin Salman Al Saud say?"


def test_the_standalone_question_is_bounded_through_the_engine():
    e = engine()
    result = e.ask("What did he say?", history=[{"role": "user", "content": CAPITALISED_RUN}])
    assert len(result["standalone_question"]) <= MAX_QUESTION_CHARS
    assert all(len(searched) <= MAX_QUESTION_CHARS for searched in e.retriever.searched)


def test_a_rewrite_that_would_pass_the_question_limit_falls_back_to_the_question():
    question = "What did he say about " + "x" * (MAX_QUESTION_CHARS - 30) + "?"
    assert len(question) <= MAX_QUESTION_CHARS
    result = engine().ask(question, history=[["Who is Talal Selo?", "An SDF spokesman [1]"]])
    assert result["standalone_question"] == question
    # any condenser, not just the rule-based one
    e = AnswerEngine(FakeRetriever(), FakeAnswerer(0.9), abstain_threshold=0.5, condenser=Recorder("y" * 10_000))
    assert e.ask("What did he say?", history=[["Who is Talal Selo?", "x"]])["standalone_question"] == "What did he say?"


@pytest.mark.parametrize("history", [
    [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(10_000)],
    [[f"turn {2 * i}", f"turn {2 * i + 1}"] for i in range(5_000)],
])
def test_only_the_most_recent_turns_are_used(history):
    condenser = Recorder()
    e = AnswerEngine(FakeRetriever(), FakeAnswerer(0.9), abstain_threshold=0.5, condenser=condenser)
    started = time.perf_counter()
    e.ask("What did he say?", history=history)
    assert time.perf_counter() - started < 1.0
    [seen] = condenser.seen
    assert len(seen) == MAX_HISTORY_TURNS and seen[-1]["content"] == "turn 9999" and seen[-1]["role"] == "assistant"


def test_an_old_dropped_turn_is_not_read():
    history = [{"role": "user", "content": "x" * (MAX_TURN_CHARS + 1)}] + [["Who is Talal Selo?", "a spokesman"]] * MAX_HISTORY_TURNS
    assert engine().ask("What did he say?", history=history)["standalone_question"] == "What did Talal Selo say?"


def test_history_over_the_total_limit_is_refused():
    per_turn = MAX_HISTORY_CHARS // MAX_HISTORY_TURNS + 1
    assert per_turn <= MAX_TURN_CHARS
    history = [{"role": "user", "content": "y" * per_turn}] * MAX_HISTORY_TURNS
    with pytest.raises(BadInput, match=f"{MAX_HISTORY_CHARS:,} characters"):
        engine().ask("What did he say?", history=history)


def test_the_llm_condenser_gets_bounded_history():
    prompts = []

    def chat(messages):
        prompts.append(messages[0]["content"])
        yield "What did Talal Selo say?"

    e = AnswerEngine(FakeRetriever(), FakeAnswerer(0.9), abstain_threshold=0.5,
                     condenser=lambda question, history: condense.with_llm(question, history, chat))
    history = [["Who is Talal Selo?", "a spokesman"]] * 10_000 + [{"role": "user", "content": "z" * (MAX_TURN_CHARS - 10)}] * 3
    history += [["Who is Talal Selo?", "a spokesman"]]
    assert e.ask("What did he say?", history=history)["standalone_question"] == "What did Talal Selo say?"
    [prompt] = prompts
    assert len(prompt) < condense.CONDENSE_HISTORY_CHARS + 1000  # the prompt's own words and the question
    # called directly, the condenser still sends the model only the recent end of a long conversation
    prompts.clear()
    condense.with_llm("What did he say?", [{"role": "user", "content": "z" * 100_000}] * 6, chat)
    assert len(prompts[0]) < condense.CONDENSE_HISTORY_CHARS + 1000


@pytest.mark.parametrize("question", ["Who is \ud800?", "\udfff", "What did he say? \udc00"])
def test_a_lone_surrogate_in_the_question_is_refused(question):
    with pytest.raises(BadInput, match="lone surrogate"):
        engine().ask(question)


@pytest.mark.parametrize("history", [
    [{"role": "user", "content": "Who is Talal \ud800Selo?"}],
    [["Who is Talal Selo?", "a spokesman \udfff"]],
])
def test_a_lone_surrogate_in_the_history_is_refused(history):
    with pytest.raises(BadInput, match="history turn .* lone surrogate"):
        engine().ask("What did he say?", history=history)


def test_a_lone_surrogate_in_a_filter_is_refused():
    from index.store import Filters

    with pytest.raises(BadInput, match="lone surrogate"):
        engine().ask("Who brokered the deal?", filters=Filters(sources=["ok", "wire \udcff"]))


def test_characters_outside_the_bmp_are_fine():
    result = engine().ask("Who brokered the deal? \U0001F600", history=[["Who is Talal Selo? \U0001F600", "x"]])
    assert result["question"].endswith("\U0001F600")
