"""A journalist's questions over eleven articles in one real index (the bundled MiniLM, embedded Chroma):
the bundled Raqqa sample and made-up stories of a harbour, a court case, a takeover, an outbreak, an
election, a car maker's job cuts, a wildfire, a football transfer, a rail strike and a rate rise.
Asked in the extractive mode and in the reader mode (the real bundled 1.5B model); each question must
be answered right or plainly not found.

These were answered wrongly, with confidence, before: a sentence of the wrong article for a name only
the other one holds, people killed counted as a population, a speaker as a place, half of "who".

NEWSQA_SKIP_READER=1 skips the reader mode where the model is left out on purpose."""

import os
import shutil

import pytest

from assistant.engine import AnswerEngine
from index.ingest import ensure_sample
from index.store import ArticleIndex
from tests.support import SAMPLE, make_settings

HARBOUR = """# Port Ellis votes to rebuild its storm-damaged pier

PORT ELLIS (Coastal Ledger) - The Port Ellis harbour board voted on Tuesday to rebuild the storm-damaged north pier, ending a year of argument over who should pay for it.
The rebuild will cost 18.5 million dollars, of which the regional government will pay 12 million, the board said in a statement.
Board chair Miriam Okafor said the vote was the hardest decision of her eight years on the board.
The pier was wrecked by Storm Hollis in February, when waves of up to nine metres broke over the harbour wall.
About 40 fishing boats have since been moored at Carrow, 30 kilometres to the south.
Port Ellis, a town of 14,000 people, depends on fishing for about a third of its jobs.
Two board members, Alan Pike and Sunita Rao, voted against the plan, arguing that the town's share of the cost was too high.
Residents will be asked for their views at a public meeting on March 3 at the town hall.
"""

COURT = """# Brewer fined for polluting the River Lenn
A brewery that let waste water into the River Lenn for three years was fined 2.4 million pounds on Friday, the largest penalty of its kind in the county.
Judge Helen Marsh told Carrick Crown Court that Halden Ales had "treated the river as a drain" between 2019 and 2022.
The company pleaded guilty in June to six breaches of its environmental permit.
Its chief executive, Owen Blake, apologised to anglers and residents and said the firm had spent 800,000 pounds on a new treatment plant.
Sarah Quinn, who led the investigation, said the damage would take a decade to repair.
Halden Ales, founded in 1871, employs 310 people at its site in Carrick.
The Lenn Anglers Association, which brought the first complaint, said it was relieved but that no fine could bring the fish back.
Its chairman, David Okoro, said the association would now ask the company to pay for restocking the river.
"""

DEAL = """# Northvale Energy to buy SolarCrest for 2.1 billion euros
Northvale Energy has agreed to buy the Spanish solar panel maker SolarCrest for 2.1 billion euros, the two companies said on Friday.
"This deal gives us the factories we need to double our solar output by 2030," said Lena Fischer, Northvale's chief executive.
SolarCrest, founded in 2009 by the engineer Pablo Ruiz, employs about 3,800 people at four plants in Spain and Portugal.
Ruiz, who owns 18 percent of the company, has agreed to sell his stake.
Northvale will pay for it with cash and new borrowing of 900 million euros.
Goldman Sachs advised Northvale, and Santander advised SolarCrest.
"""

HEALTH = """# Measles cases triple in Harlow County as vaccination rates fall
The county recorded 87 measles cases between January and August, against 29 in the whole of last year.
Dr. Amara Nwosu, the county's director of public health, said only 84 percent of five-year-olds had received both doses of the vaccine.
"Ninety-five percent is the level that stops the virus spreading," she said.
The county will open three walk-in clinics from September 15, at a cost of 1.2 million dollars paid by the state.
Parents' group Safe Start, which has campaigned against school vaccine requirements, said it would not oppose the clinics.
"""

ELECTION = """# Castell wins Dunmore mayoral race by 412 votes
Maria Castell was elected mayor of Dunmore on Thursday, beating the sitting mayor, Tom Avery, by 412 votes after a night of counting.
Castell, a 41-year-old former school headteacher, won 9,874 votes to Avery's 9,462. Turnout was 38 percent.
Castell will take office on May 18.
"""

LAYOFFS = """# Kestrel Motors to cut 1,200 jobs as electric car sales slow
Kestrel Motors will cut 1,200 jobs at its plant in Wexford, about a fifth of the workforce there, the carmaker said on Wednesday.
The company reported a net loss of 340 million dollars for the third quarter, compared with a profit of 95 million a year earlier.
Chief financial officer Priya Raman said sales of its electric models had fallen 18 percent since January.
"We have built more cars than people are buying," Raman told analysts on a conference call.
The union representing the workers, Unite Wexford, called the cuts "a betrayal" and said it would ballot its members on strike action.
Its regional secretary, Colm Brady, 58, said the company had received 60 million dollars in state aid in 2021 on condition that jobs were kept.
Kestrel's shares fell 7 percent in New York trading.
"""

WILDFIRE = """# Wildfire forces 6,200 people from their homes near Brookfield
BROOKFIELD (Valley Courier) - A wildfire that started on Sunday afternoon has burned about 11,000 hectares of forest north of Brookfield and forced 6,200 residents to leave their homes, fire officials said on Tuesday.
The blaze was 15 percent contained by Tuesday evening, according to the state forestry service.
More than 900 firefighters, supported by 14 helicopters, are working to stop it from reaching the town's northern suburbs.
Two firefighters were treated in hospital for smoke inhalation and released on Monday night.
Fire chief Daniel Mercer said the fire was probably caused by a power line brought down by strong winds.
"The next 48 hours are critical, because the wind is expected to pick up again on Thursday," Mercer said.
Governor Alicia Romero declared a state of emergency for Brookfield County on Monday and promised 25 million dollars in aid for people who lost property.
At least 37 homes have been destroyed, most of them in the village of Pine Hollow.
Evacuees are being housed at the Brookfield sports centre, which can hold about 1,500 people, and in three local schools.
The utility company, Northern Grid, said it was cooperating with investigators but declined to comment further.
"""

TRANSFER = """# Harlow United sign striker Tomas Reyes for a club record fee
Harlow United have signed the Uruguayan striker Tomas Reyes from Porto for a club record fee of 45 million pounds, the club announced on Wednesday.
Reyes, 24, has agreed a five-year contract and will wear the number nine shirt.
He scored 31 goals in all competitions for Porto last season, the most of any player in the Portuguese league.
"Tomas is exactly the kind of forward we have been looking for," said manager Karen Holt, who took charge of Harlow in March.
The fee could rise to 52 million pounds if Harlow qualify for the Champions League during his contract.
Reyes replaces Liam Foster, who left for Bayern Munich in July after eight seasons at the club.
Harlow finished sixth in the league last season, four points short of a European place.
The club's owner, the investment firm Castlegate Partners, bought Harlow in 2021 for 300 million pounds.
"""

STRIKE = """# Rail workers in Elmsworth to strike for three days over pay
ELMSWORTH (Metro Daily) - Train drivers at Elmsworth Rail will walk out for three days from 14 March after talks over pay broke down, their union said on Thursday.
The Drivers' Union, which represents about 2,300 of the company's 2,800 drivers, wants a 9 percent pay rise this year; the company has offered 4 percent.
Union general secretary Priya Nandakumar said members had "run out of patience" after 11 months of talks.
Elmsworth Rail runs about 1,900 trains a day and carries some 420,000 passengers on a typical weekday.
The company's chief executive, Martin Cole, called the strike "deeply disappointing" and said only one train in five would run on strike days.
The last strike at the company, in 2019, lasted five days and cost it an estimated 18 million pounds.
Transport minister Helen Osei urged both sides to return to talks at the arbitration service Acas.
Passengers with season tickets will be able to claim refunds for the strike days, the company said.
"""

BANK = """# Bank of Aldmere raises its main rate to 4.75 percent as inflation stays high
CORVIN (Corvin Herald) - The Bank of Aldmere raised its main interest rate by a quarter of a percentage point on Thursday, to 4.75 percent, its third increase this year, as inflation stayed well above its target.
Governor Helena Varga said the rise was needed because prices were still climbing too fast.
"We will do what it takes to bring inflation back to 2 percent," she told reporters in Corvin, the capital.
Inflation was 5.8 percent in October, down from 6.4 percent in September, according to the national statistics office.
The bank's nine-member monetary policy committee voted six to three for the increase.
The three dissenting members, led by deputy governor Paul Okonjo, wanted to keep the rate at 4.5 percent.
Finance Minister Rita Solberg welcomed the decision, but the opposition Labour Alliance said it would hurt families with mortgages.
About 1.2 million households have variable-rate mortgages, the bank estimates; their monthly payments will rise by an average of 38 euros.
The committee meets next on 18 December, and economists polled by the Corvin Herald expect the rate to stay at 4.75 percent until at least March.
Shares in Northgate Bank, the country's biggest lender, rose 2 percent after the announcement.
"""

MODES = ["extractive", pytest.param("reader", marks=pytest.mark.skipif(
    os.environ.get("NEWSQA_SKIP_READER") == "1", reason="NEWSQA_SKIP_READER=1"))]


@pytest.fixture(scope="module")
def articles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("journalist")
    (folder / "articles").mkdir()
    (folder / "articles" / "harbour.md").write_text(HARBOUR, encoding="utf-8")
    (folder / "articles" / "court.md").write_text(COURT, encoding="utf-8")
    (folder / "articles" / "deal.md").write_text(DEAL, encoding="utf-8")
    (folder / "articles" / "health.md").write_text(HEALTH, encoding="utf-8")
    (folder / "articles" / "election.md").write_text(ELECTION, encoding="utf-8")
    (folder / "articles" / "layoffs.md").write_text(LAYOFFS, encoding="utf-8")
    (folder / "articles" / "wildfire.md").write_text(WILDFIRE, encoding="utf-8")
    (folder / "articles" / "transfer.md").write_text(TRANSFER, encoding="utf-8")
    (folder / "articles" / "strike.md").write_text(STRIKE, encoding="utf-8")
    (folder / "articles" / "bank.md").write_text(BANK, encoding="utf-8")
    shutil.copy(SAMPLE, folder / "articles" / SAMPLE.name)
    return folder


@pytest.fixture(scope="module", params=MODES)
def engine(request, articles, tmp_path_factory, minilm):
    mode = request.param
    settings = make_settings(articles / f"data-{mode}", sample_path=articles / "articles", answer_mode=mode,
                             model_cache_dir=tmp_path_factory.getbasetemp().parent / "newsqa-models")
    index = ArticleIndex.from_settings(settings, embeddings=minilm)
    ensure_sample(index, articles / "articles")
    engine = AnswerEngine.from_settings(settings, index=index)
    assert engine.answerer.mode == mode  # the reader installed, not the extractive stand-in
    yield engine
    engine.close()
    index.close()


def cited_text(answer) -> str:
    return " ".join(c.evidence for c in answer.citations)


@pytest.mark.parametrize("question,right", [
    ("How much will the rebuild cost?", "18.5 million"),
    ("How much will the regional government pay?", "12 million"),  # not the whole cost, named first
    ("How many people live in Port Ellis?", "14,000"),
    ("When did Storm Hollis wreck the pier?", "February"),
    ("Who is Miriam Okafor?", "chair"),
    ("How high were the waves?", "nine metres"),  # a measure with its unit: the reader said "nine"
    ("How far away is Carrow?", "30 kilometres"),
    ("How much was the brewery fined?", "2.4 million pounds"),
    ("Who led the investigation?", "Sarah Quinn"),
    ("When was Halden Ales founded?", "1871"),
    ("Who is the chairman of the anglers association?", "David Okoro"),
    ("Who is Owen Blake?", "chief executive"),
    ("Who bought SolarCrest?", "Northvale"),  # "agreed to buy": was "Seville", without bought = buy
    ("Who advised SolarCrest?", "Santander"),  # the reader said "Goldman Sachs", who advised Northvale
    ("What level stops the virus spreading?", "Ninety-five percent"),  # the reader's "95%" was unsupported
    ("How much did Northvale borrow?", "900 million"),  # a sum named as borrowing, asked as borrowing
    ("By how many votes did Castell win?", "412"),  # the margin, asked as one
    ("When will Castell take office?", "May 18"),
    ("How much profit did Kestrel make a year earlier?", "95 million"),  # the reader said "95"
    ("How old is Colm Brady?", "58"),  # an age between commas after the name
    ("Who said they have built more cars than people are buying?", "Raman"),
    ("What did the union call the cuts?", "betrayal"),
    ("How many drivers does the union represent?", "2,300"),  # was "2,800" (extractive), the company's drivers
    ("What was inflation in September?", "6.4 percent"),  # was "5.8 percent" (both modes), October's
    ("What was inflation in October?", "5.8 percent"),
    ("When does the committee meet next?", "18 December"),
])
def test_what_the_article_says_is_answered(engine, question, right):
    answer = engine.answer(question)
    assert not answer.abstained and right in (answer.short_answer or ""), (question, answer.short_answer)
    assert answer.short_answer in cited_text(answer)


@pytest.mark.parametrize("question,names", [
    ("Who voted against the plan?", ("Alan Pike", "Sunita Rao")),
    ("Who brokered the deal?", ("council", "tribal elders")),
])
def test_who_did_it_is_everyone_the_sentence_names_not_the_first(engine, question, names):
    answer = engine.answer(question)
    assert not answer.abstained and all(name in (answer.short_answer or "") for name in names), answer.short_answer


def test_who_said_it_is_the_speaker_named_before_he_said(engine):
    """"This is the final battle, he said." follows the sentence naming Talal Selo. The extractive mode
    answered "Syria s Raqqa", the reader "U.S.-backed militias" (a sentence where no one speaks). The
    reader's reply here varies with what it read before; it may claim no one, never someone else."""
    answer = engine.answer("Who said this is the final battle?")
    assert answer.short_answer is None or "Selo" in answer.short_answer, answer.short_answer


@pytest.mark.parametrize("question,says", [
    ("Did Northvale buy SolarCrest?", "agreed to buy"),  # the reader mode said "not found": its "Yes" is in no sentence
    ("Will the union strike?", "ballot its members on strike action"),
])
def test_a_yes_or_no_question_is_answered_with_the_sentences_that_say_so(engine, question, says):
    answer = engine.answer(question)
    assert not answer.abstained and answer.short_answer is None and says in cited_text(answer), answer


@pytest.mark.parametrize("question", [
    "How many people died in Storm Hollis?",  # the war story's "hundreds of civilians have died"
    "How many people live in Raqqa?",  # "more than 130 people" were killed in Paris
    "How many fish died?",  # "hundreds of civilians have died", in the war story
    "How much did the campaign cost?",  # "Two board members" counts people; 1.2 million is the clinics' cost
    "How many goals did Liam Foster score?",  # was "31" (both modes): the "he" of "He scored 31 goals" is Reyes
    "What will the ferry terminal cost?",  # no story has one: the pier's 18.5 million (extractive), the clinics' (reader)
    "What did Northvale pay for SolarCrest?",  # the reader's echo "SolarCrest" showed the new borrowing's sentence
    "How many people were evacuated?",  # 130 killed in Paris (extractive), 275 militants who left (reader)
    "What was inflation in August?",  # was "January" (extractive), of the measles story's "between January and August"
])
def test_an_answer_that_is_about_something_else_is_not_found(engine, question):
    answer = engine.answer(question)
    assert answer.abstained and answer.short_answer is None, (question, answer.short_answer)


@pytest.mark.parametrize("question,wrong", [
    ("Where did the fighters go?", "Dillon"),  # the subject of "Dillon said" is no place
    ("Who is the mayor of Port Ellis?", "Coastal Ledger"),  # neither article names a mayor
    ("How long will the town borrow for?", "June 6"),  # when the battle for Raqqa began is no span of time
    ("Who owns Harlow United?", "Tomas Reyes"),  # of the sentence saying the club signed him: no owning there
    ("Who founded Halden Ales?", "Carrick"),  # "founded in 1871 ... its site in Carrick" (extractive): no founder named
])
def test_no_short_answer_is_claimed_that_the_sentence_does_not_give(engine, question, wrong):
    answer = engine.answer(question)
    assert answer.short_answer is None or (wrong not in answer.short_answer and "Syria" in answer.short_answer), \
        (question, answer.short_answer)


@pytest.mark.parametrize("question,right", [
    ("When was the brewery fined?", "Friday"),  # not "three years", how long it polluted
    ("Who is Helen Marsh?", "Judge"),  # not "Carrick Crown Court", which she spoke to
    ("What did the judge say about the river?", "drain"),  # not "Helen Marsh": a what-question asks no one
    ("What will the association ask the company to do?", "restocking"),  # not "David Okoro"
    ("What did Lena Fischer say about the deal?", "factories"),  # the reader replied "said"
    ("How many measles cases has the county recorded?", "87"),  # "measles" is not what is counted
    ("What share of five-year-olds had both doses?", "84 percent"),  # the reader's "84%" gave "84"
    ("How much is Northvale paying for SolarCrest?", "2.1 billion"),  # was "900 million", the new borrowing
    ("How many votes did Maria Castell get?", "9,874"),  # was "412" (extractive), her winning margin
    ("How old is Maria Castell?", "41"),  # was "412 votes" (extractive), her margin
    ("When was the SolarCrest deal announced?", "Friday"),  # was "2030" (extractive, "output by 2030"), then "2009" (founded)
    ("What price did Northvale agree?", "2.1 billion"),  # the reader said "900 million euros", the new borrowing
    ("What is Northvale paying for SolarCrest?", "2.1 billion"),  # the reader said "cash": the verb asks a sum
    ("How many firefighters were hurt?", "Two"),  # the reader said "900", the firefighters at work
    ("How long will the strike last?", "three days"),  # was "five days" (both modes), how long the last one lasted
    ("When will the strike start?", "14 March"),  # was "Sunday" (extractive), when the wildfire started
    ("Who caused the fire?", "power line"),  # was "Daniel Mercer" (both modes), who said what caused it
    ("How much will monthly mortgage payments rise?", "38 euros"),  # was "About 1.2 million" (extractive), households
    ("By how much did the Bank of Aldmere raise its rate?", "quarter of a percentage point"),  # was "4.75 percent"
])
def test_the_right_kind_of_answer_or_none(engine, question, right):
    answer = engine.answer(question)
    assert answer.short_answer is None or right in answer.short_answer, (question, answer.short_answer)
