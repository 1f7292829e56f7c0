"""News-time preference, without a model: which wording asks for recent news, what a publication
date adds to a passage's score, and the date filters it travels in."""

from datetime import date

import pytest

from assistant.retriever import asks_about_recent_news, news_time_adjustment, parse_as_of
from core.errors import BadInput
from index.store import Filters

AS_OF = date(2023, 1, 5)


@pytest.mark.parametrize("question", [
    "NFL player Damar Hamlin suffered an on-field medical emergency this week. Which team is he on?",
    "Which company is the latest tech giant to announce significant layoffs?",
    "Which home goods chain recently said it has doubts it can stay in business?",
    "Who was sworn in yesterday?", "What did the court rule today?", "Who resigned last week?",
    "Which country did this month's storm hit?", "Who is the new Speaker of the House?",
    "Where is the president now?", "Which prices are currently rising?",
    "Which football team won the Carabao Cup final on Sunday?", "Who was arrested Monday after 30 years on the run?",
])
def test_time_words_ask_for_recent_news(question):
    assert asks_about_recent_news(question)


@pytest.mark.parametrize("question", [
    "Who brokered the deal?", "Which team does Damar Hamlin play for?",
    "Who is the governor of New York?", "Which party won in New Zealand?",
    "Now that the war is over, who rebuilt the bridge?",  # sentence-initial "Now": not about time
    "What is the newest ship's weekly schedule?",  # no whole time word
])
def test_questions_without_time_words_do_not(question):
    assert not asks_about_recent_news(question)


def test_recent_window_gains_the_boost_and_older_or_later_articles_do_not():
    adjust = lambda published: news_time_adjustment(published, AS_OF, True, boost=0.3, tiebreak=0.0, window_days=10)  # noqa: E731
    assert adjust("2023-01-04") == adjust("2022-12-26") == adjust("2023-01-06") == pytest.approx(0.3)  # window, +1 day
    assert adjust("2022-12-25") == adjust("2023-01-07") == adjust("2021-03-01") == 0.0


def test_without_time_words_only_the_small_tie_break_counts_and_fresher_wins():
    adjust = lambda published: news_time_adjustment(published, AS_OF, False, boost=0.3, tiebreak=0.02)  # noqa: E731
    scores = [adjust(day) for day in ("2023-01-05", "2023-01-01", "2022-12-01", "2022-01-01")]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4
    assert all(abs(s) <= 0.01 for s in scores)
    assert adjust("2023-01-20") == pytest.approx(-0.01)  # after as_of: the stalest, not the freshest
    assert adjust("2023-01-06") == pytest.approx(adjust("2023-01-05"))  # a day late is as fresh as the day itself


def test_unknown_or_unreadable_date_is_neutral():
    for wants_recent in (True, False):
        assert news_time_adjustment(None, AS_OF, wants_recent) == 0.0
        assert news_time_adjustment("", AS_OF, wants_recent) == 0.0
        assert news_time_adjustment("sometime in May", AS_OF, wants_recent) == 0.0
    in_window = news_time_adjustment("2023-01-03", AS_OF, True)
    old = news_time_adjustment("2022-06-01", AS_OF, True)
    assert old < 0.0 < in_window  # unknown sits between: below the recent window, above the stale tie-break


def test_a_zero_boost_and_tie_break_change_nothing():
    assert news_time_adjustment("2023-01-03", AS_OF, True, boost=0.0, tiebreak=0.0) == 0.0


def test_as_of_defaults_to_today_and_refuses_a_non_date():
    assert parse_as_of(None, lambda: AS_OF) == AS_OF
    assert parse_as_of("2023-01-05") == parse_as_of("2023-01-05T23:59:00+00:00") == AS_OF
    with pytest.raises(BadInput, match="YYYY-MM-DD"):
        parse_as_of("last Tuesday")


def test_as_of_travels_in_filters_but_filters_nothing():
    filters = Filters(sources=["wire"], published_from="2022-12-01", as_of="2023-01-05")
    assert filters.as_kwargs() == {"sources": ["wire"], "published_from": "2022-12-01", "published_to": None}
    window = filters.within("2022-12-26", "2023-01-06")
    assert window == Filters(["wire"], "2022-12-26", "2023-01-06", "2023-01-05")
    assert Filters(published_from="2023-01-01", published_to="2023-01-02").within("2022-12-26", "2023-01-06") == \
        Filters(None, "2023-01-01", "2023-01-02")  # the caller's narrower range stays
