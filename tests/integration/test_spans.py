"""How an answer span is widened or narrowed on the real spaCy parse: a measure keeps its unit."""

import pytest

from assistant.answering.extractive.answerer import default_nlp
from assistant.answering.extractive.spans import measured


@pytest.fixture(scope="module")
def nlp():
    return default_nlp()


@pytest.mark.parametrize("sentence,answer,widened", [
    ("The storm brought waves of up to nine metres to the coast.", "nine", "nine metres"),
    ("The storm brought waves of up to nine metres to the coast.", "of up to nine", "up to nine metres"),
    ("The boats are moored at Carrow, 30 kilometres to the south.", "30", "30 kilometres"),
    ("She is 45 years old.", "45", "45 years"),
    ("The bridge is 1.2 km long.", "1.2 km", "1.2 km"),  # already whole
    ("The bridge took three years to build.", "The bridge", "The bridge"),  # no number: unchanged
    ("Nine of the boats sank.", "Nine", "Nine"),  # no unit right after it
])
def test_a_measure_keeps_its_unit_and_drops_a_leading_preposition(nlp, sentence, answer, widened):
    start = sentence.index(answer)
    first, last = measured(nlp(sentence), start, start + len(answer))
    assert sentence[first:last] == widened


def test_the_preposition_goes_where_the_parse_calls_it_a_quantity_modifier(nlp):
    sentence = "The pier was wrecked by Storm Hollis in February, when waves of up to nine metres broke over the harbour wall."
    start = sentence.index("of up to")
    first, last = measured(nlp(sentence), start, start + len("of up to nine metres"))
    assert sentence[first:last] == "up to nine metres"
