"""The bench scripts: scoring rules on known examples, the loaders, and one tiny end-to-end eval run.

The end-to-end run uses the fast fake embeddings and a two-question corpus; the real numbers come
from `python -m bench.eval ...` (see BENCHMARKS.md), not from tests.
"""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from bench import datasets, lib, metrics, perf, quantity, report, shared
from tests.support import ROOT

HAVE_EVAL_DATA = (datasets.eval_dir() / "squad2_500" / "queries.json").exists()
needs_data = pytest.mark.skipif(not HAVE_EVAL_DATA, reason="the shared eval datasets are not beside the repository")


# --- scoring rules ----------------------------------------------------------------------------

def test_realtimeqa_normalisation_keeps_articles_and_squad_drops_them():
    assert metrics.normalize_realtimeqa("  The  Buffalo Bills! ") == "the buffalo bills"
    assert metrics.normalize_squad("  The  Buffalo Bills! ") == "buffalo bills"
    assert metrics.em_f1("Buffalo Bills", ["the Buffalo Bills"], "realtimeqa")[0] == 0.0
    assert metrics.em_f1("Buffalo Bills", ["the Buffalo Bills"], "squad2") == (1.0, 1.0)
    assert metrics.normalize_realtimeqa("20歳") == "20"  # the official CJK counters go


def test_f1_is_token_overlap_max_over_golds():
    em, f1 = metrics.em_f1("Buffalo Bills team", ["Cincinnati Bengals", "Buffalo Bills"], "realtimeqa")
    assert em == 0.0
    assert f1 == pytest.approx(0.8)  # precision 2/3, recall 1


def test_squad2_unanswerable_needs_the_empty_prediction():
    assert metrics.em_f1("", [""], "squad2") == (1.0, 1.0)
    assert metrics.em_f1(None, [""], "squad2") == (1.0, 1.0)
    assert metrics.em_f1("Paris", [""], "squad2") == (0.0, 0.0)
    assert metrics.em_f1("", ["Paris"], "squad2") == (0.0, 0.0)
    # the official script drops golds that normalise to nothing ("." here)
    assert metrics.squad2_golds(["elimination of French power", "."]) == ["elimination of French power"]


def test_realtimeqa_f1_of_two_empty_strings_is_zero_as_in_the_official_scorer():
    assert metrics.realtimeqa_em("", "") == 1.0
    assert metrics.realtimeqa_f1("", "") == 0.0


def test_containment_is_on_whole_words():
    assert metrics.contains("The Buffalo Bills won.", "buffalo bills")
    assert not metrics.contains("Billsworth won", "Bills")
    assert not metrics.contains("anything", "")


def test_rgb_multihop_rules_and_percentiles():
    assert metrics.rgb_correct("It was on Jul 21, 2017.", [["July 21 2017", "Jul 21, 2017"]])
    assert not metrics.rgb_correct("Insufficient information. Jul 21, 2017", [["Jul 21, 2017"]])
    assert metrics.multihop_hit("yes.", "Yes") is False  # the official rule splits on whitespace only
    assert metrics.multihop_hit("yes", "Yes")
    assert metrics.multihop_fact_in("a b\nc", "xx abc yy")
    assert lib.percentile([1, 2, 3, 4], 50) == 2.5
    assert lib.percentile([10], 95) == 10
    assert lib.percentile([], 50) is None
    assert lib.percentile([3, 1, 2, 10], 95) == pytest.approx(8.95)  # linear between closest ranks


# --- loaders and the published numbers --------------------------------------------------------

@needs_data
def test_loaders_build_the_documented_corpora():
    rtqa = datasets.load("realtimeqa")
    assert len(rtqa.questions) == 294 and len(rtqa.articles) == 1881
    assert all(q["golds"] and q["answerable"] for q in rtqa.questions)
    assert all(a.published is None or len(a.published) == 10 for a in rtqa.articles)
    squad = datasets.load("squad2")
    assert (len(squad.questions), len(squad.articles)) == (500, 411)
    assert sum(not q["answerable"] for q in squad.questions) == 258
    multihop = datasets.load("multihop")
    assert sum(not q["answerable"] for q in multihop.questions) == 71
    clean, fake = datasets.load("rgb"), datasets.load("rgb_counterfactual")
    assert len(clean.questions) == len(fake.questions) == 100
    assert all(q["fake_golds"] for q in fake.questions)


@needs_data
def test_rescoring_the_released_predictions_reproduces_the_published_numbers():
    rtqa = datasets.realtimeqa_baselines()["open_gpt3_gcs"]
    assert (round(rtqa["em"], 3), round(rtqa["f1"], 3), rtqa["n"]) == (0.306, 0.408, 294)
    assert round(rtqa["mc_accuracy"], 3) == 0.603
    bert = datasets.squad2_baselines()["BERT (single model) (Google AI Language)"]
    assert (round(bert["em"], 2), round(bert["f1"], 2)) == (79.6, 82.75)


# --- end to end -------------------------------------------------------------------------------

def _assert_fraction(value):
    assert value is None or 0.0 <= value <= 1.0, value


@needs_data
def test_eval_script_runs_end_to_end_and_report_renders_it(tmp_path):
    command = [sys.executable, "-m", "bench.eval", "squad2", "--limit", "2", "--small-corpus", "--embedding-model", "hash",
               "--out-dir", str(tmp_path), "--quiet"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| retrieval recall@5" in done.stdout and "BERT (single model)" in done.stdout

    result = json.loads((tmp_path / "eval_squad2_limit2_small.json").read_text())
    # the NEWSQA_ settings it ran with come first (tests/conftest.py sets the extractive mode)
    assert re.fullmatch(r"(NEWSQA_\w+=\S+ )+python -m bench\.eval squad2 --limit 2 --small-corpus .*", result["command"])
    assert "NEWSQA_ANSWER_MODE=extractive " in result["command"]
    scores = result["scores"]
    assert scores["n"] == 2 and len(result["questions"]) == 2
    for key in ("recall_at_k", "answer_accuracy", "em", "f1", "abstention_rate", "wrong_abstention_rate",
                "citation_precision", "citation_validity", "gold_in_corpus"):
        assert key in scores
        _assert_fraction(scores[key])
    assert scores["gold_in_corpus"] == 1.0  # the small corpus holds each question's own paragraph
    assert scores["citation_validity"] in (None, 1.0)  # evidence must be verbatim, always
    assert set(scores["latency_ms"]) >= {"embed_ms", "retrieve_ms", "answer_ms", "total_ms"}
    assert scores["latency_ms"]["total_ms"]["p50"] > 0
    row = result["questions"][0]
    assert {"answer", "short_answer", "abstained", "em", "f1", "citations", "timings"} <= set(row)

    # BENCHMARKS.md is built from the JSON files only
    (tmp_path / "eval_squad2.json").write_text(json.dumps(result))
    output = tmp_path / "BENCHMARKS.md"
    assert report.main(["--out-dir", str(tmp_path), "--output", str(output)]) == 0
    text = output.read_text()
    shown = report.command(result)  # as a reader re-runs it: where the JSON went is left out
    assert "--out-dir" in result["command"] and "--out-dir" not in shown
    assert "## Machine" in text and shown in text and "PARTIAL RUN" in text


@needs_data
def test_reading_bench_counts_gold_in_the_best_sentences_per_variant(tmp_path):
    """`bench.reading` on a tiny index: each variant's share of questions whose gold lies in the best n
    sentences can only grow with n, and never passes the passages' own ceiling."""
    build = [sys.executable, "-m", "bench.eval", "squad2", "--limit", "4", "--small-corpus", "--embedding-model", "hash",
             "--index-dir", str(tmp_path / "idx"), "--out-dir", str(tmp_path), "--quiet"]
    done = subprocess.run(build, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    command = [sys.executable, "-m", "bench.reading", "--index", f"squad2={tmp_path / 'idx'}", "--limit", "4",
               "--variant", "shipped", "--variant", "role-1", "--embedding-model", "hash", "--out", str(tmp_path / "r.json")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads((tmp_path / "r.json").read_text())["datasets"]["squad2"]
    assert row["questions"] >= 1 and set(row["variants"]) == {"shipped", "role-1"}
    for scores in row["variants"].values():
        shares = [scores[f"in best {n}"] for n in (1, 2, 3, 4, 6)]
        assert shares == sorted(shares) and shares[-1] <= row["passages"] <= 1.0
        assert scores["rank p50 ms"] > 0


# --- perf helpers (the full perf run takes minutes; these check its parts) ----------------------

def test_perf_padding_helpers():
    from index.documents import Article

    article = Article(text="One.\n\nTwo.\n\nThree.", title="T", source="https://x/1", key="https://x/1")
    copy = perf.copy_article(article, 1)
    assert copy.text == "Two.\n\nThree.\n\nOne." and copy.doc_id != article.doc_id and "copy 1" in copy.title
    pool = np.eye(4, dtype=np.float32)
    vectors = perf.ReusedVectors(pool).encode(["a", "b", "a"])
    assert vectors.shape == (3, 4)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


def test_perf_targets_pass_and_fail_on_the_numbers(tmp_path):
    result = {
        "ingest": {"ratio_passages_per_s": 2.5, "ratio_articles_per_s": 2.1, "questions": 10,
                   "ours": {"recall_at_4": 0.5, "f1": 0.5}, "baseline": {"recall_at_4": 0.4}},
        "scale": [{"passages": 19000, "ask": {"p50": 40.0}}, {"passages": 200000, "ask": {"p50": 90.0}}],
        "served": {"clients": 8, "answers_per_s": 12.0, "p95_ms": 900.0},
    }
    ingest_target = "ingestion ≥ 2× baseline articles/s, with recall@4 ≥ baseline's"
    verdicts = {t["target"].split(" (")[0]: t["passed"] for t in lib.targets(result, out_dir=tmp_path)}
    assert verdicts[ingest_target] is True
    # judged by articles/s: more, smaller passages alone do not pass
    result["ingest"]["ratio_articles_per_s"] = 1.1
    assert {t["target"]: t["passed"] for t in lib.targets(result, out_dir=tmp_path)}[ingest_target] is False
    assert verdicts["warm ask p50 < 50 ms"] is True
    assert verdicts["≥ 30 answers/s with 8 clients"] is False


def test_perf_asks_each_question_as_of_its_own_date():
    assert perf.asked_then({"question": "Who won this week?", "date": "2023-01-06"}).as_of == "2023-01-06"
    assert perf.asked_then({"question": "Who won?"}) is None


def test_perf_times_our_ingest_stages_and_pads_through_the_index(tmp_path):
    from index.documents import Article
    from index.embeddings import HashEmbeddings

    articles = [Article(text=f"Story {n} begins here. The council met on Monday. Talks went on.\n\nA second part {n}. It ends.",
                        title=f"Story {n}", source=f"https://x/{n}", key=f"https://x/{n}") for n in range(6)]
    ours = perf.ingest_ours(articles, tmp_path / "ours", HashEmbeddings())
    index = ours["index"]
    try:
        assert list(ours["stages"]) == [*perf.STAGE_LABELS.values(), "other (hashing, batching, reconcile)"]
        assert all(seconds >= 0 for seconds in ours["stages"].values())
        assert sum(ours["stages"].values()) == pytest.approx(ours["seconds"])
        assert index.on_stage is None  # the hook is the bench's only while it measures
        pool = index.vectors.collection.get(include=["embeddings"])["embeddings"]
        passages, next_copy, _ = perf.pad_ours(index, articles, ours["passages"] + 10, perf.ReusedVectors(pool), 1)
        assert passages >= ours["passages"] + 10 and next_copy > 1
        assert index.check().ok and index.catalog.pending() == []
        assert index.lexical_search("council", 50)  # copies are searchable like ingested articles
    finally:
        index.close()


@needs_data
@pytest.mark.parametrize("copy", [False, True], ids=["padded", "copied"])
def test_shared_bench_measures_every_configuration(tmp_path, copy):
    """`python -m bench.shared --quick` for real: its own PostgreSQL, `chroma run` and `app.py serve`
    replicas, a few hundred passages and 2 s of load per configuration (about a minute). With
    `--copy-shared` the shared stores are copies of the embedded ones (the catalog's rows, Chroma's
    folder under a restarted `chroma run`), and are answered from one client; that run skips the served
    configurations (`--skip-served`), which serve the shared stores alike however they were filled and
    which the padded run measures."""
    command = [sys.executable, "-m", "bench.shared", "--quick", "--out-dir", str(tmp_path)]
    command += ["--copy-shared", "--skip-served"] if copy else []
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    result = json.loads((tmp_path / "shared_quick.json").read_text())
    (size,) = result["scales"]
    if copy:
        assert size["served"] == []
    else:
        assert [row["config"] for row in size["served"]] == list(shared.CONFIGS)  # one row per configuration, 8 clients
        assert all(row["answers"] > 0 and row["errors"] == 0 for row in size["served"]), size["served"]
        for label in shared.CONFIGS.values():
            assert label in done.stdout
    build = size["build"]
    assert build["embedded"]["passages"] == build["shared"]["passages"] >= 600  # the same content in both backends
    assert build["shared"].get("copied", False) is copy and result["copy_shared"] is copy
    assert set(size["latency"]) == {"embedded", "shared"} and all(t["ask"]["n"] == 5 for t in size["latency"].values())
    assert all(mib > 0 for mib in size["sizes"].values()) and all(size["memory"].values())
    assert result["where"]["flags"] is not None and result["loadavg_start"]


def test_report_shows_old_script_commands_as_module_commands():
    assert report.command({"command": "python bench/eval.py squad2 --quiet"}) == "python -m bench.eval squad2 --quiet"
    assert report.command({"command": "python -m bench.perf --quick"}) == "python -m bench.perf --quick"
    assert report.command({}, "python -m bench.fusion --k 4") == "python -m bench.fusion --k 4"


@pytest.mark.parametrize("script", ["eval", "perf", "fusion", "report", "shared", "first_start", "retrieval", "encoders",
                                    "quantity", "reading", "compare"])
def test_bench_scripts_run_as_modules(script):
    done = subprocess.run([sys.executable, "-m", f"bench.{script}", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr[-2000:]


def test_quantity_bench_checks_each_place_a_gold_number_occurs():
    text = "Power went out. About 900 homes were hit.\nThe city has 900 people in it."
    places = quantity.occurrences(text, "900")
    assert [sentence for sentence, _, _ in places] == ["About 900 homes were hit.", "The city has 900 people in it."]
    assert all(sentence[start:end] == "900" for sentence, start, end in places)


def test_reader_dev_says_what_each_abstention_came_from(tmp_path):
    from bench import reader_dev

    def row(answerable, abstained, **reader):
        return {"answerable": answerable, "abstained": abstained, "em": 0.0, "f1": 0.0, "timings": {},
                "reader": {"declined": 0.0, "unsupported": 0.0, **reader}}

    run = tmp_path / "eval_squad2.json"
    run.write_text(json.dumps({"questions": [
        row(True, True, unsupported=1.0), row(True, True), row(True, True, echo=1.0), row(True, False),
        row(False, True, declined=1.0), row(False, True, unsupported=1.0), row(False, False)]}))
    text = reader_dev.summary(run)
    assert ("answerable: 1 by the decline/unsupported rule, 1 repeating the question, 1 by the threshold or an "
            "answer check; unanswerable: 2 by the decline/unsupported rule, 0 repeating the question, 0 by the "
            "threshold or an answer check") in text


def test_compare_lists_each_changed_answer_and_counts_the_kinds(tmp_path):
    from bench import compare

    def row(qid, answerable, short, abstained, f1):
        return {"id": qid, "question": f"q{qid}?", "golds": ["gold"] if answerable else [], "answerable": answerable,
                "short_answer": short, "abstained": abstained, "f1": f1}

    before = {"questions": [row(1, True, "", True, 0.0), row(2, False, "", True, 1.0), row(3, True, "x", False, 1.0),
                            row(4, True, "y", False, 0.0), row(6, False, "w", False, 0.0)]}
    after = {"questions": [row(1, True, "gold", False, 1.0), row(2, False, "z", False, 0.0),
                           row(3, True, "x", False, 1.0), row(5, True, "", True, 0.0), row(6, False, None, False, 1.0)]}
    lines, counts = compare.compare(before, after)
    assert lines == ["q1? | gold 'gold' | not found (F1 0.00) -> 'gold' (F1 1.00)",
                     "q2? | gold '' | not found (F1 1.00) -> 'z' (F1 0.00)",
                     "q6? | gold '' | 'w' (F1 0.00) -> '(sentences only)' (F1 1.00)"]
    assert counts == {"answerable, better": 1, "unanswerable, now answered": 1, "unanswerable, now sentences only": 1,
                      "only in the second run": 1, "only in the first run": 1}
