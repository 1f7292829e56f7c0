"""The check that a number counts what the question asks about (assistant/answering/extractive/quantity.py)."""

import pytest

from assistant.answering.extractive.quantity import (
    PEOPLE,
    age_of_something_else,
    amount_of_something_else,
    asked_unit,
    counts_something_else,
    deadline_for_a_past_when,
    fate_of_something_else,
    figure_of_the_asked_time,
    figure_of_the_change,
    margin_for_a_total,
    sum_of_something_else,
    wrong_kind_of_time,
)

STORM = "A winter storm knocked out power to about 40,000 homes in Lakeview on Sunday night."


def span(sentence: str, answer: str) -> tuple[int, int]:
    return sentence.index(answer), sentence.index(answer) + len(answer)


@pytest.mark.parametrize("question", ["What is the population of Lakeview?", "How many people lost power?",
                                      "How many residents were left in the dark?"])
def test_homes_do_not_answer_a_question_about_people(question):
    assert asked_unit(question) == PEOPLE
    for answer in ("40,000", "about 40,000 homes", "40,000 homes"):
        assert counts_something_else(question, STORM, *span(STORM, answer)), answer


@pytest.mark.parametrize("question", ["How many homes lost power?", "How many new homes lost power?",
                                      "How many houses lost power?", "How many households lost power?"])
def test_the_thing_asked_about_or_another_word_for_it_passes(question):
    assert not counts_something_else(question, STORM, *span(STORM, "40,000"))


def test_a_noun_before_the_counted_noun_does_not_hide_it():
    cases = "The county recorded 87 cases between January and August."
    assert not counts_something_else("How many measles cases has the county recorded?", cases, *span(cases, "87"))
    assert counts_something_else("How many measles cases has the county recorded?", STORM, *span(STORM, "40,000"))
    people = "About 40,000 people lost power."
    assert counts_something_else("How many homes lost power?", people, *span(people, "40,000"))  # "lost" is no noun


@pytest.mark.parametrize("sentence,number,question", [
    ("Raqqa, a city of 300,000, was taken.", "300,000", "What is the population of Raqqa?"),
    ("The raid killed 12 Palestinians.", "12", "How many people died?"),
    ("About 3,000 US troops left.", "3,000", "How many soldiers left?"),
    ("The 400 richest Americans own more than half.", "400", "How many Americans are richer than half?"),
    ("The plant created 2,000 new jobs.", "2,000", "How many jobs were created?"),
    ("The blast killed 12 on Monday.", "12", "How many people were killed?"),
    ("Some 400 civilians fled.", "400", "How many people fled?"),
    ("It cost 31.5 million dollars.", "31.5", "How many dollars did it cost?"),
])
def test_nothing_is_claimed_where_the_sentence_names_no_other_thing(sentence, number, question):
    assert not counts_something_else(question, sentence, *span(sentence, number))


@pytest.mark.parametrize("question", ["Who lost power?", "How many were hit?", "When did the storm hit?",
                                      "How much did the library cost?"])
def test_questions_that_name_no_counted_thing_are_not_checked(question):
    assert asked_unit(question) is None
    assert not counts_something_else(question, STORM, *span(STORM, "40,000"))


def test_an_answer_without_a_number_is_not_checked():
    assert not counts_something_else("How many people lost power?", STORM, *span(STORM, "A winter storm"))


PARIS = ("The coalition has said Raqqa was a hub for attacks abroad, and in November 2015, after militants killed "
         "more than 130 people in Paris, France launched air strikes on Islamic State targets inside Raqqa.")


@pytest.mark.parametrize("question", ["How many people live in Raqqa?", "What is the population of Raqqa?"])
def test_people_counted_for_something_else_are_not_a_population(question):
    assert counts_something_else(question, PARIS, *span(PARIS, "more than 130"))


@pytest.mark.parametrize("sentence,number", [
    ("Port Ellis, a town of 14,000 people, depends on fishing.", "14,000"),
    ("In 1939, c. 1,300,000 people lived in Warsaw.", "1,300,000"),
    ("About 2,500 residents remain in the valley.", "2,500"),
])
def test_a_sentence_about_where_people_live_answers_a_population(sentence, number):
    assert not counts_something_else("How many people live there?", sentence, *span(sentence, number))
    assert not counts_something_else("What is the population?", sentence, *span(sentence, number))


def test_a_count_of_people_is_no_measure():
    town = "Port Ellis, a town of 14,000 people, depends on fishing."
    assert counts_something_else("How far is Carrow from Port Ellis?", town, *span(town, "14,000"))
    assert counts_something_else("How high were the waves?", town, *span(town, "14,000 people"))
    boats = "About 40 fishing boats have since been moored at Carrow, 30 kilometres to the south."
    assert not counts_something_else("How far away is Carrow?", boats, *span(boats, "30 kilometres"))
    assert not counts_something_else("How old is she?", "She is 45 years old.", 7, 9)


def test_a_count_of_people_is_no_amount():
    board = "Two board members, Alan Pike and Sunita Rao, voted against the plan."
    assert counts_something_else("How much did the campaign cost?", board, *span(board, "Two"))
    staff = "SolarCrest employs about 3,800 people at four plants."
    assert counts_something_else("How much of SolarCrest does Pablo Ruiz own?", staff, *span(staff, "about 3,800"))
    price = "The offer values SolarCrest at 14.50 euros a share."
    assert not counts_something_else("How much is the offer worth?", price, *span(price, "14.50 euros"))


@pytest.mark.parametrize("answer,wrong", [
    ("June 6", True), ("on Tuesday", True), ("2015", True),
    ("20 years", False), ("since 2010", False), ("from May to June", False), ("1.2 km", False), ("three months", False),
])
def test_a_date_does_not_say_how_long(answer, wrong):
    assert wrong_kind_of_time("How long will the town borrow for?", answer) is wrong


@pytest.mark.parametrize("answer,wrong", [
    ("three years", True), ("a decade", True),
    ("Friday", False), ("three years ago", False), ("the next day", False), ("in June 2021", False),
    ("two weeks later", False), ("the 1990s", False), ("at the age of 12", False),
])
def test_a_span_of_time_does_not_say_when(answer, wrong):
    assert wrong_kind_of_time("When was the brewery fined?", answer) is wrong
    assert wrong_kind_of_time("The river was polluted. When was the brewery fined?", answer) is wrong
    assert not wrong_kind_of_time("What happened when the river flooded?", answer)


@pytest.mark.parametrize("question", ["How long will the town borrow for?", "When will the town borrow?"])
def test_a_sum_of_money_is_no_time(question):
    assert wrong_kind_of_time(question, "900 million euros")
    assert wrong_kind_of_time(question, "$12m")
    assert not wrong_kind_of_time(question, "five years" if question.startswith("How") else "in June")


def test_a_number_in_words_counts_what_follows_its_of():
    war = "Hundreds of civilians have died in the battle for Raqqa."
    assert counts_something_else("How many fish died?", war, *span(war, "Hundreds"))
    assert not counts_something_else("How many civilians died?", war, *span(war, "Hundreds"))
    bids = "Delmont Marine was chosen from five bidders."
    assert counts_something_else("How many boats sank?", bids, *span(bids, "five"))


CLINICS = "The county will open three clinics and send a van to rural schools, at a cost of 1.2 million dollars."


@pytest.mark.parametrize("question,nouns,other", [
    ("How much did the campaign cost?", ["campaign"], True),  # the clinics' cost: the sentence names no campaign
    ("How much will the clinics cost?", ["clinics"], False),
    ("How many schools will the van visit?", ["schools", "van"], False),
    ("How many schools will the bus visit?", ["schools", "bus"], True),  # the counted noun is not enough
    ("How many people died?", ["people"], False),  # nothing else named: not judged
    ("When will the clinics open?", ["clinics"], False),  # not an amount
    ("What will the campaign cost?", ["campaign"], True),  # a what-question whose verb asks a sum
    ("What will the clinics cost?", ["clinics"], False),
])
def test_an_amount_from_a_sentence_about_something_else(question, nouns, other):
    assert amount_of_something_else(question, nouns, CLINICS) is other


DEAL = "Northvale will pay for it with cash and new borrowing of 900 million euros."
CLINIC_COST = "The county will open three clinics, at a cost of 1.2 million dollars paid by the state."


@pytest.mark.parametrize("question,sentence,other", [
    ("How much is Northvale paying for SolarCrest?", DEAL, True),  # borrowed, not the price
    ("How much will Northvale pay for SolarCrest?", DEAL, True),
    ("How much did Northvale borrow?", DEAL, False),  # the kind asked
    ("How much new debt will Northvale take on?", DEAL, False),  # another word of that kind
    ("How much money is involved?", DEAL, False),  # the question asks no kind: not judged
    ("How many euros will Northvale borrow?", DEAL, False),  # "how many": not a sum's kind
    ("How much will the clinics cost?", CLINIC_COST, False),
    ("How much did the county borrow?", CLINIC_COST, True),  # a cost is no loan
    ("What price did Northvale agree?", DEAL, True),  # the reader said "900 million euros"
    ("What was the price of SolarCrest?", DEAL, True),
    ("What did Northvale borrow?", DEAL, False),  # "what" alone asks no sum
    ("What is Northvale paying for SolarCrest?", DEAL, True),  # the verb asks the price
])
def test_a_sum_named_as_one_kind_does_not_answer_another(question, sentence, other):
    start = next(i for i, ch in enumerate(sentence) if ch.isdigit())
    assert sum_of_something_else(question, sentence, start) is other


def test_a_sum_named_by_no_known_kind_is_not_judged():
    sentence = "The club agreed a package of 40 million pounds for the stadium."
    assert not sum_of_something_else("How much will the club pay?", sentence, sentence.index("40"))


ELECTION = ("Maria Castell was elected mayor of Dunmore on Thursday, beating the sitting mayor, Tom Avery, "
            "by 412 votes after a night of recounts.")


@pytest.mark.parametrize("question,sentence,answer,margin", [
    ("How many votes did Maria Castell get?", ELECTION, "412", True),  # she won 9,874
    ("How many votes did Castell win by?", ELECTION, "412", False),  # the margin is asked
    ("By how many votes did she beat Avery?", ELECTION, "412", False),
    ("How many member states adopted the charter?", "It was adopted in 1989 by 11 of the 12 member states.", "11", False),
    ("How much did prices rise?", "Prices rose by 5% in May.", "5%", False),  # a change, not a win
])
def test_a_winning_margin_is_no_total(question, sentence, answer, margin):
    assert margin_for_a_total(question, sentence, sentence.index(answer)) is margin


ELECTED = "Maria Castell was elected mayor of Dunmore on Thursday, beating Tom Avery by 412 votes."


@pytest.mark.parametrize("question,sentence,answer,other", [
    ("How old is Maria Castell?", ELECTED, "412", True),  # her margin is no age
    ("How old is Maria Castell?", ELECTED, "412 votes", True),
    ("How old is Maria Castell?", "Castell, a 41-year-old former headteacher, won.", "41", False),
    ("How old is Maria Castell?", "Castell, a 41-year-old former headteacher, won.", "41-year-old", False),
    ("How old was the victim?", "The victim, aged 23, was taken to hospital.", "23", False),
    ("What age did he retire at?", "He retired at the age of 65 in 2010.", "65", False),
    ("How old is Halden Ales?", "Halden Ales employs 310 people.", "310", True),
    ("How old is the pier?", "The 120-year-old pier was wrecked.", "120", False),
    ("How old is the singer?", "Adele, 35, will tour in May.", "35", False),  # between commas after a name
    ("How old is the singer?", "Adele (35) will tour in May.", "35", False),
    ("How old is the singer?", "She sold 35 million records.", "35 million", True),
    ("How many votes did Castell win?", ELECTED, "412", False),  # no age asked: not this check's business
])
def test_a_number_is_an_age_only_where_the_sentence_gives_one(question, sentence, answer, other):
    assert age_of_something_else(question, sentence, *span(sentence, answer)) is other


QUOTE = "\"This deal gives us the factories we need to double our solar output by 2030,\" said Lena Fischer."


@pytest.mark.parametrize("question,sentence,answer,deadline", [
    ("When was the deal announced?", QUOTE, "2030", True),  # a target, not when it happened
    ("When did the council approve the plan?", "The council must approve the plan by the end of 2024.", "2024", True),
    ("When will the plant double its output?", QUOTE, "2030", False),  # asked about the future: the target answers
    ("When was the deal announced?", "The deal was announced on Friday.", "Friday", False),
    ("When had the Brotherhood renounced violence?", "By the 1970s, the Brotherhood had renounced violence.",
     "the 1970s", False),  # SQuAD 2.0: a "by" that says when it had happened
    ("When did he move to Paris?", "He had moved to Paris by 1990.", "1990", False),
])
def test_a_deadline_does_not_say_when_something_was_done(question, sentence, answer, deadline):
    assert deadline_for_a_past_when(question, sentence, sentence.index(answer)) is deadline


@pytest.mark.parametrize("question,sentence", [
    ("How many people died in the fire?", "The fire forced 6,200 residents to leave their homes."),  # the reader's "6,200"
    ("How many people were evacuated?", "Selo said 275 Syrian militants left along with their family members."),
    ("How many firefighters were hurt?", "More than 900 firefighters are working to stop it."),
    ("How many were arrested?", "About 2,000 people marched through the city."),
])
def test_a_count_of_people_another_fate_befell_does_not_answer(question, sentence):
    assert fate_of_something_else(question, sentence)


@pytest.mark.parametrize("question,sentence", [
    ("How many people died in the fire?", "Hundreds of civilians have died."),
    ("How many people died?", "The death toll rose to 40 on Monday."),
    ("How many people were evacuated?", "The fire forced 6,200 residents to leave their homes."),
    ("How many firefighters were hurt?", "Two firefighters were treated in hospital for smoke inhalation."),
    ("How many were arrested?", "Police said 12 people were taken into custody."),
    ("How many homes burned?", "At least 37 homes have been destroyed."),  # no fate of people asked
    ("A quake killed 40 this week. How many buildings fell?", "Some 300 buildings fell."),  # the lead-in's deaths
])
def test_a_count_that_speaks_of_the_fate_asked_or_of_none_passes(question, sentence):
    assert not fate_of_something_else(question, sentence)


INFLATION = "Inflation was 5.8 percent in October, down from 6.4 percent in September, according to the statistics office."


@pytest.mark.parametrize("question,answer,moved", [
    ("What was inflation in September?", "5.8 percent", "6.4 percent"),  # October's figure: September's instead
    ("What was inflation in October?", "5.8 percent", "5.8 percent"),
    ("What was inflation in August?", "5.8 percent", "5.8 percent"),  # a time the sentence does not name: not judged
    ("What was inflation last month?", "5.8 percent", "5.8 percent"),
])
def test_a_figure_told_of_another_time_moves_to_the_asked_times(question, answer, moved):
    start = INFLATION.index(answer)
    first, last = figure_of_the_asked_time(question, INFLATION, start, start + len(answer))
    assert INFLATION[first:last] == moved


def test_a_figure_keeps_its_shape_and_a_missing_time_refuses_it():
    revenue = "Revenue rose to $5 billion in 2023 from about $4.2 billion in 2022."
    start = revenue.index("$5")
    first, last = figure_of_the_asked_time("What was revenue in 2022?", revenue, start, start + len("$5 billion"))
    assert revenue[first:last] == "$4.2 billion"
    sales = "Sales were 120 in March, and the shop closed in April."
    start = sales.index("120")
    assert figure_of_the_asked_time("How many were sold in April?", sales, start, start + 3) is None
    stay = "Economists expect the rate to stay at 4.75 percent until at least March."  # no "in March": not told of it
    start = stay.index("4.75")
    assert figure_of_the_asked_time("What will the rate be in March?", stay, start, start + 12) == (start, start + 12)


PAYMENTS = ("About 1.2 million households have variable-rate mortgages; their monthly payments will rise by an "
            "average of 38 euros.")
RATE = "The bank raised its main rate by a quarter of a percentage point on Thursday, to 4.75 percent."


@pytest.mark.parametrize("question,sentence,answer,moved", [
    ("How much will monthly payments rise?", PAYMENTS, "About 1.2 million", "38 euros"),  # the change, not a count
    ("By how much did the bank raise its rate?", RATE, "4.75 percent", "a quarter of a percentage point"),
    ("By how much did the bank raise its rate?", "The bank raised its rate to 4.75 percent.", "4.75 percent", None),
    ("What is the bank's new rate?", RATE, "4.75 percent", "4.75 percent"),  # no change asked
    ("How much did shares rise?", "Shares rose 2 percent after the announcement.", "2 percent", "2 percent"),
    ("By how much will the company cut jobs?", "The company will cut 900 jobs by 2025.", "900", "900"),  # "by 2025"
])
def test_by_how_much_is_the_by_figure_of_the_change_not_the_level_reached(question, sentence, answer, moved):
    start = sentence.index(answer)
    span = figure_of_the_change(question, sentence, start, start + len(answer))
    assert (sentence[span[0]:span[1]] if span else None) == moved
