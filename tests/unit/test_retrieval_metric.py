"""The retrieval measure of the benchmarks: "a retrieved passage contains the gold", whatever quotes
the page prints; EM and F1 keep the official RealTime QA normalisation."""

from bench.metrics import contains, contains_any, em_f1


def test_typographic_quotes_in_a_gold_do_not_hide_it_from_containment():
    passage = 'Oscar nominations are here: "Everything Everywhere All at Once" ruled Tuesday. M&M\'s dropped its mascots.'
    assert contains(passage, "“Everything Everywhere All at Once”")
    assert contains(passage, "‘Everything Everywhere All at Once’")
    assert contains(passage, "M&M’s")
    assert contains_any("Don't Say Gay bill", ["Don’t Say Gay Bill"])


def test_containment_is_still_on_whole_words_and_the_official_scores_are_unchanged():
    assert not contains("The Spareribs recipe", "“Spare”")
    assert em_f1("Everything Everywhere All at Once", ["“Everything Everywhere All at Once”"], "realtimeqa")[0] == 0.0
