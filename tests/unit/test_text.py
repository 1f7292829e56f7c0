"""The extractive stage's light stemmer (assistant/answering/extractive/text.py)."""

import pytest

from assistant.answering.extractive.text import content_stems, stem


@pytest.mark.parametrize("a,b", [("brokered", "broker"), ("militants", "militant"), ("cities", "city"),
                                 ("bought", "buy"), ("sold", "selling"), ("paid", "pays"), ("led", "leading"),
                                 ("fled", "fleeing"), ("withdrawn", "withdraw"), ("spent", "spending"),
                                 ("owner", "owns"), ("founders", "founded"), ("buyer", "bought")])
def test_forms_of_one_word_share_a_stem(a, b):
    assert stem(a) == stem(b)


@pytest.mark.parametrize("a,b", [("founded", "found"), ("bought", "bout"), ("leader", "led"),
                                 ("manager", "managed")])
def test_different_words_keep_different_stems(a, b):
    assert stem(a) != stem(b)


def test_a_question_in_the_past_matches_a_sentence_in_the_present():
    question = set(content_stems("Who bought SolarCrest?"))
    sentence = set(content_stems("Northvale Energy has agreed to buy SolarCrest for 2.1 billion euros."))
    assert question <= sentence
