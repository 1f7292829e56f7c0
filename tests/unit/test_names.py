"""The check that an answer's article names what the question names (assistant/answering/extractive/names.py)."""

from dataclasses import replace

import pytest

from assistant.answering.base import RetrievedPassage
from assistant.answering.extractive.names import asked_names, describes_name, identity_name, missing_names, missing_subject


@pytest.mark.parametrize("question,names", [
    ("How many people died in Storm Hollis?", ["hollis"]),
    ("What did President Joe Biden say in Ohio?", ["biden", "ohio"]),  # a run of capitals counts by its last word
    ("Who won the vote in 2021?", ["2021"]),
    ("Who was Genghis's 3rd son?", ["genghis"]),  # ordinals are left out: articles spell them ("third")
    ("Which Republican lost the vote?", []),  # the kind of answer asked for is not a name to look for
    ("Travelers from which country now need a test to enter the U.S.?", []),  # single letters are left out
    ("Richard Belzer died this week. Which show did he star in?", []),  # only the question proper, not its lead-in
])
def test_the_names_a_question_asks_about(question, names):
    assert asked_names(question) == names


def passage(doc_id: str, text: str, title: str = "", source: str = "test") -> RetrievedPassage:
    return RetrievedPassage(passage_id=f"{doc_id}:{len(text)}", doc_id=doc_id, title=title, source=source,
                            published=None, text=text, start=0, sentences=[(0, len(text))])


PASSAGES = [
    passage("war", "Thousands of people have fled and hundreds of civilians have died.", "Raqqa falls"),
    passage("harbour", "The pier was wrecked by Storm Hollis in February.", "Port Ellis rebuilds its pier"),
    passage("harbour", "Board chair Miriam Okafor said the vote was hard."),
]


def test_an_article_that_lacks_the_asked_name_is_the_wrong_article():
    question = "How many people died in Storm Hollis?"
    assert missing_names(question, PASSAGES, "war") == ["hollis"]
    assert missing_names(question, PASSAGES, "harbour") == []


def test_names_count_across_the_articles_retrieved_passages_and_its_title():
    assert missing_names("What did Okafor say about Storm Hollis?", PASSAGES, "harbour") == []
    assert missing_names("When did Port Ellis vote?", PASSAGES, "harbour") == []  # in the title only
    assert missing_names("What did Okafor say?", PASSAGES, "war") == ["okafor"]


def test_a_name_outside_the_retrieved_passages_counts_where_the_whole_article_is_known():
    story = "The Chiefs beat the Eagles 38-35. Patrick Mahomes led the comeback. Mahomes was named MVP."
    led = RetrievedPassage("s#1", "s", "Super Bowl", "s.md", None, "Patrick Mahomes led the comeback.", 34,
                           [(34, 67)], 1.0, 1)
    question = "Who was named the game's MVP?"
    assert missing_names(question, [led], "s") == ["mvp"]  # the passages alone
    assert missing_names(question, [replace(led, article=story)], "s") == []
    assert missing_names(question, [replace(led, article=story)], "s", whole_article=False) == ["mvp"]
    other = "The Chiefs beat the Eagles 38-35. Patrick Mahomes led the comeback."
    assert missing_names(question, [replace(led, article=other)], "s") == ["mvp"]


def test_a_figure_or_date_from_an_article_that_never_names_the_asked_subject_is_of_something_else():
    measles = passage("m", "The county recorded 87 measles cases between January and August.", "Measles returns")
    inflation = passage("b", "Inflation was 5.8 percent in October.", "Bank raises its rate")
    assert missing_subject("January", ["inflation"], [measles], "m")
    assert not missing_subject("5.8 percent", ["inflation"], [inflation], "b")
    assert not missing_subject("the county", ["inflation"], [measles], "m")  # not a figure or a date: not judged
    assert not missing_subject("87", ["people"], [measles], "m")  # a light noun asks nothing
    told = replace(measles, article="Inflation is low, officials say. The county recorded 87 measles cases.")
    assert not missing_subject("January", ["inflation"], [told], "m")  # the whole article names it


def test_a_publisher_is_named_by_its_articles_web_address():
    fact = "The Justice Department is focused on the deals Google makes to be the default search engine."
    verge = [passage("v", fact, "Apple defends Google Search deal", "https://www.theverge.com/2023/9/26/apple")]
    assert missing_names("Which company, reported by The Verge, pays to be the default?", verge, "v") == []
    crunch = [passage("t", fact, "", "https://techcrunch.com/2023/10/google")]
    assert missing_names("Which company, reported by TechCrunch, pays to be the default?", crunch, "t") == []
    assert missing_names("Which company, reported by TechCrunch, pays to be the default?", verge, "v") == ["techcrunch"]
    local = [passage("f", fact, "", "verge.txt")]  # a file's name is no publisher
    assert missing_names("Which company, reported by The Verge, pays to be the default?", local, "f") == ["verg"]


@pytest.mark.parametrize("question,missing", [
    ("When did Galor and Zeria show new information?", []),  # SQuAD 2.0's typo: two letters swapped
    ("What did Miriam Okfor show?", []),  # one letter dropped inside
    ("When did Galor and Zeiira show new information?", []),  # one letter doubled
    ("When did Galor and Zeiss show new information?", ["zeiss"]),  # another name
    ("When did Galor and Zeirb show new information?", ["zeirb"]),  # one letter replaced: Obama is not Osama
    ("When did Galor and Zeiran show new information?", ["zeiran"]),  # a letter added at the end: another word
    ("When did Galor and Zeir show new information?", ["zeir"]),  # under five letters: no allowance
])
def test_a_name_misspelled_by_one_letter_is_still_there(question, missing):
    passages = [passage("paper", "In 1993, Galor and Zeira, with Miriam Okafor, showed that inequality lasts.")]
    assert missing_names(question, passages, "paper") == missing


def test_a_question_that_names_nothing_misses_nothing():
    assert missing_names("How many people died?", PASSAGES, "war") == []


def test_an_aside_between_commas_is_context_not_what_is_asked():
    assert asked_names("The ferry, which the company said was built in 1998, sank off the coast of which country?") == []


@pytest.mark.parametrize("question,text", [
    ("What did the UN say?", "The United Nations said it would send aid."),
    ("Who was named the game's MVP?", "Mahomes was named the most valuable player."),
    ("What is the name of the deal with the European Union?", "The deal with the EU was signed."),
])
def test_an_acronym_and_its_words_stand_for_each_other(question, text):
    assert missing_names(question, [passage("a", text)], "a") == []


def test_an_acronym_is_not_found_in_any_words_that_happen_to_share_its_initials():
    assert missing_names("What did the UN say?", [passage("a", "The union now said nothing.")], "a") == ["un"]


@pytest.mark.parametrize("question,name", [
    ("Who is Sarah Mbeki?", "Sarah Mbeki"), ("what was Clean Lune", "Clean Lune"),
    ("Who is the Duke of York?", None), ("Who is the mayor?", None), ("Who won?", None),
])
def test_an_identity_question_names_whom_it_asks_about(question, name):
    assert identity_name(question) == name


@pytest.mark.parametrize("description,sentence,beside", [
    ("The company's chief executive", "The company's chief executive, Sarah Mbeki, said so.", True),
    ("Mayor", "Mayor Sarah Mbeki thanked them.", True),
    ("a spokeswoman", "said Sarah Mbeki, a spokeswoman.", True),
    ("Lancaster Crown Court", "Judge Sarah Mbeki approved it at Lancaster Crown Court.", False),
])
def test_a_description_counts_only_beside_the_name(description, sentence, beside):
    assert describes_name(description, "Sarah Mbeki", sentence) is beside
