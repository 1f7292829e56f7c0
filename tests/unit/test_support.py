"""Where a reply's number is written the other way from the article's (assistant/answering/reader/support.py)."""

import pytest

from assistant.answering.reader.support import number_forms, spellings, support

BIDDERS = "Delmont Marine was chosen from five bidders after an open tender that closed in September."


@pytest.mark.parametrize("reply,sentence,span", [
    ("5", BIDDERS, "five"),
    ("9 metres", "Waves of up to nine metres broke over the harbour wall.", "nine metres"),
    ("twelve", "The council has 12 members.", "12"),
    ("40", "About 40 fishing boats are moored at Carrow.", "40"),
    ("95%", '"Ninety-five percent is the level that stops the virus spreading," she said.', "Ninety-five percent"),
    ("84%", "Only 84 percent of five-year-olds had both doses.", "84 percent"),  # not "84", without its unit
    ("84 percent", "Only 84% of five-year-olds had both doses.", "84%"),
    ("36%", "Prices rose 36% last year.", "36%"),
    ("twenty-one", "The jury of 21 retired.", "21"),
])
def test_a_number_written_the_other_way_is_found_as_the_article_writes_it(reply, sentence, span):
    found = support(reply, [sentence])
    assert found is not None and found.exact and sentence[found.start:found.end] == span


def test_a_number_the_sentence_does_not_hold_either_way_is_not_supported():
    assert support("6", [BIDDERS]) is None


def test_other_words_and_large_numbers_stay_as_they_are():
    assert number_forms("Alan Pike") == ["Alan Pike"]
    assert number_forms("1998") == ["1998"]
    assert number_forms("120") == ["120"]


def test_who_said_asks_for_someone_speaking_in_the_sentence():
    from assistant.answering.extractive.question import asks_speaker, speaks

    assert asks_speaker("Who said this is the final battle?") and not asks_speaker("Who is Talal Selo?")
    assert speaks("This is the final battle, he said.") and speaks("Talal Selo told Reuters that 200 remained.")
    assert speaks("The board said in a statement.") and speaks("according to the contractor")
    # no one speaks here, though "Islamic State" and "United States" hold "state"
    assert not speaks("U.S.-backed militias launched their final assault after letting Islamic State fighters quit the city.")
    assert not speaks("The United States sent troops.")


@pytest.mark.parametrize("reply,sentence,span", [
    ("30 kilometers", "About 40 boats are moored at Carrow, 30 kilometres to the south.", "30 kilometres"),
    ("9 meters", "Waves of up to nine metres broke over the harbour wall.", "nine metres"),
    ("the harbor wall", "Waves of up to nine metres broke over the harbour wall.", "the harbour wall"),
    ("the city centre", "They met in the city center.", "the city center"),
])
def test_british_and_american_spellings_find_the_article_s_own(reply, sentence, span):
    found = support(reply, [sentence])
    assert found is not None and found.exact and sentence[found.start:found.end] == span


def test_spellings_leave_other_words_alone():
    assert spellings("Peter Carter") == ["Peter Carter"]
    assert spellings("honest labourers") == ["honest labourers"]


@pytest.mark.parametrize("reply,sentence,span", [
    ("vampire bat", "Vampire bats dwell in the rainforest and spread rabies.", "Vampire bats"),
    ("new bridges", "The county built one new bridge in 2019.", "new bridge"),
    ("the boxes", "Staff carried the boxes out.", "the boxes"),  # the exact span, not widened
])
def test_a_reply_in_the_singular_or_plural_finds_the_article_s_own_word(reply, sentence, span):
    found = support(reply, [sentence])
    assert found is not None and found.exact and sentence[found.start:found.end] == span


def test_the_exact_words_are_preferred_to_a_plural_elsewhere_and_short_words_are_not_pluralised():
    found = support("bat", ["Bats fly at night.", "A bat was found."])
    assert (found.sentence, found.start, found.end) == (1, 2, 5)
    assert support("a", ["It was as cold as ever."]) is None


def test_a_question_asking_what_was_paid_wants_a_sum_with_a_number():
    """"What is Northvale paying for SolarCrest?" was answered "cash": the verb asks a sum, so a reply
    without a number is not shown, while one with the sum is."""
    from assistant.answering.extractive.question import analyse_question, asks_paid
    from tests.unit.test_reader import FakeModel, reader, run

    assert asks_paid("What is Northvale paying for SolarCrest?") and asks_paid("What did the terminal cost?")
    assert analyse_question("What did the region pay for the terminal?").kind == "amount"
    for other in ("What did the council spend the money on?", "What are they paying for?",
                  "What is the cost of the terminal?",  # a noun the parse types later
                  "What are private schools that charge no tuition called?",  # the verb of a relative clause
                  "What was the U.S. Information Agency charged with doing?"):  # a duty, not a price
        assert not asks_paid(other), other
    asked = "What did the region pay for the terminal?"
    assert run(reader(FakeModel("the region")), asked)[1].short_answer is None
    assert run(reader(FakeModel("84,000,000 dollars")), asked)[1].short_answer == "84,000,000 dollars"


def test_a_reply_that_only_repeats_a_question_asking_a_sum_is_not_found_where_no_number_was_found():
    """"What did Northvale pay for SolarCrest?" -> "SolarCrest" showed the sentence of the new borrowing,
    whose number the extractive stage had refused. Where that stage has a short answer, its sentence is
    still shown (without it), as for any reply that repeats the question."""
    from tests.unit.test_reader import FakeModel, reader, run

    asked = "What did the region pay for the terminal?"
    assert run(reader(FakeModel("the terminal"), short=None), asked)[1].abstained
    shown = run(reader(FakeModel("the terminal"), short="84,000,000 dollars"), asked)[1]
    assert not shown.abstained and shown.short_answer is None
