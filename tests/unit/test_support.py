"""Where a reply's number is written the other way from the article's (assistant/answering/reader/support.py)."""

import pytest

from assistant.answering.reader.support import number_forms, support

BIDDERS = "Delmont Marine was chosen from five bidders after an open tender that closed in September."


@pytest.mark.parametrize("reply,sentence,span", [
    ("5", BIDDERS, "five"),
    ("9 metres", "Waves of up to nine metres broke over the harbour wall.", "nine metres"),
    ("twelve", "The council has 12 members.", "12"),
    ("40", "About 40 fishing boats are moored at Carrow.", "40"),
])
def test_a_number_written_the_other_way_is_found_as_the_article_writes_it(reply, sentence, span):
    found = support(reply, [sentence])
    assert found is not None and found.exact and sentence[found.start:found.end] == span


def test_a_number_the_sentence_does_not_hold_either_way_is_not_supported():
    assert support("6", [BIDDERS]) is None


def test_other_words_and_large_numbers_stay_as_they_are():
    assert number_forms("Alan Pike") == ["Alan Pike"]
    assert number_forms("1998") == ["1998"]
