"""Answer-quality benchmark: ingest a dataset into a fresh index and ask every question through the
same `AnswerEngine` the API uses.

It is over 400 lines because every dataset goes through the one scoring loop here (retrieval,
answer, short-answer and citation checks), which the report reads field by field.

    python -m bench.eval DATASET [--limit N] [--k 5] [--small-corpus] [--date-filter]
    DATASET: realtimeqa | squad2 | rgb | rgb_counterfactual | multihop | all

Prints one markdown table per dataset (published baselines beside ours where they exist) and
writes bench/out/eval_DATASET.json (`python -m bench.report` turns those into BENCHMARKS.md). Runs with
--limit or --small-corpus write eval_DATASET_<suffix>.json so they never replace a full run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import datasets as ds
from bench import environment
from bench.lib import OUT, asked_then, mean, percentile, ratio, write_json
from bench.metrics import (
    contains_any, em_f1, multihop_fact_in, multihop_hit, normalize_contained, rgb_correct, word_count,
)
from bench.report import render_eval

MAX_ANSWER_WORDS = 60
STAGES = ("condense_ms", "embed_ms", "retrieve_ms", "answer_ms", "total_ms", "wall_ms")
ALL = ("realtimeqa", "squad2", "rgb", "rgb_counterfactual", "multihop")
_MARKER = re.compile(r"\s*\[\d+\]")


class RecordingAnswerer:
    """Wraps the engine's answerer to keep the passages the engine retrieved for the last question,
    so retrieval recall is measured on exactly what the answerer saw, at no extra cost."""

    def __init__(self, inner):
        self.inner = inner
        self.mode = inner.mode
        self.last_passages: list = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def stream(self, question, passages, question_vector=None):
        self.last_passages = list(passages)
        yield from self.inner.stream(question, passages, question_vector)


def _answer_words(answer: str) -> int:
    return word_count(_MARKER.sub("", answer))


def build_engine(data_dir: Path, k: int, embedding_model: str | None = None):
    from assistant.engine import AnswerEngine
    from core.settings import Settings
    from index.store import ArticleIndex

    extra = {"embedding_model": embedding_model} if embedding_model else {}
    settings = Settings(data_dir=data_dir, top_k=k, _env_file=None, **extra)
    index = ArticleIndex.from_settings(settings)
    engine = AnswerEngine.from_settings(settings, index=index)
    engine.answerer = RecordingAnswerer(engine.answerer)
    return settings, index, engine


def score_question(q: dict, result: dict, passages: list, rules: str, doc_text) -> dict:
    """Every per-question measure; `doc_text(doc_id)` gives an article's full stored text."""
    golds = q["golds"]
    abstained = bool(result["abstained"])
    answer = result["answer"] or ""
    short = "" if abstained else (result.get("short_answer") or "")
    em, f1 = em_f1(short, golds, rules)
    row = {
        "id": q["id"], "question": q["question"], "golds": golds[:3], "answerable": q["answerable"],
        "answer": answer, "short_answer": short, "abstained": abstained, "confidence": result.get("confidence"),
        "em": em, "f1": f1, "timings": result.get("timings", {}),
    }
    answered = not abstained and _answer_words(answer) <= MAX_ANSWER_WORDS
    if q["answerable"]:
        row["retrieved_rank"] = next((rank for rank, p in enumerate(passages, 1) if contains_any(p.text, golds)), None)
        row["retrieved"] = row["retrieved_rank"] is not None
        if rules == "rgb":
            row["correct"] = answered and rgb_correct(answer, q["gold_groups"])
        else:
            row["correct"] = answered and contains_any(answer, golds)
    else:
        row["retrieved"] = None
        row["correct"] = abstained  # the right output for an unanswerable question is an abstention
    row["too_long"] = not abstained and _answer_words(answer) > MAX_ANSWER_WORDS

    citations = result.get("citations") or []
    valid = []
    for c in citations:
        text = doc_text(c["doc_id"]) or ""
        offset = c["start"] - c["passage_start"]
        valid.append(
            c["evidence"] in c["passage"]
            and c["passage"][offset : offset + len(c["evidence"])] == c["evidence"]
            and text[c["start"] : c["end"]] == c["evidence"]
        )
    row["citations"] = len(citations)
    row["citations_valid"] = sum(valid)
    row["citations_supporting"] = sum(contains_any(c["evidence"], golds) for c in citations) if q["answerable"] else 0
    row["cited"] = [{"title": c["title"][:80], "evidence": c["evidence"][:300]} for c in citations[:2]]

    if q.get("fake_golds"):
        row["misled"] = not abstained and contains_any(answer, q["fake_golds"]) and not contains_any(answer, golds)
        row["fake_retrieved"] = any(contains_any(p.text, q["fake_golds"]) for p in passages)
    if rules == "multihop":
        prediction = "Insufficient information." if abstained else (short or answer)
        row["official_hit"] = multihop_hit(prediction, q["raw_answer"])
        row["question_type"] = q.get("question_type")
        facts = q.get("evidence_facts") or []
        if facts:
            found = [any(multihop_fact_in(f, p.text) for p in passages) for f in facts]
            row["facts_found"], row["facts_total"] = sum(found), len(facts)
            first = next((rank for rank, p in enumerate(passages, 1)
                          if any(multihop_fact_in(f, p.text) for f in facts)), None)
            row["reciprocal_rank"] = 1 / first if first else 0.0
            row["fact_in_top4"] = first is not None and first <= 4
    return row


def summarise(rows: list[dict], rules: str) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    abstained = [r for r in rows if r["abstained"]]
    citations = sum(r["citations"] for r in rows)
    answerable_citations = sum(r["citations"] for r in answerable)
    answered_answerable = [r for r in answerable if not r["abstained"]]
    s = {
        "n": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall_at_k": mean(r["retrieved"] for r in answerable),
        "recall_at_1": mean((r.get("retrieved_rank") or 99) <= 1 for r in answerable),
        "answer_accuracy": mean(r["correct"] for r in answerable),
        "decision_accuracy": mean(r["correct"] for r in rows),
        "too_long_rate": mean(r["too_long"] for r in rows),
        "em": mean(r["em"] for r in rows),
        "f1": mean(r["f1"] for r in rows),
        "em_answerable": mean(r["em"] for r in answerable),
        "f1_answerable": mean(r["f1"] for r in answerable),
        "em_unanswerable": mean(r["em"] for r in unanswerable),
        "abstention_rate": mean(r["abstained"] for r in rows),
        "abstention_precision": ratio(sum(not r["answerable"] for r in abstained), len(abstained)) if unanswerable else None,
        "abstention_recall": ratio(sum(r["abstained"] for r in unanswerable), len(unanswerable)),
        "wrong_abstention_rate": ratio(sum(r["abstained"] for r in answerable), len(answerable)),
        "citations": citations,
        "citation_precision": ratio(sum(r["citations_supporting"] for r in answerable), answerable_citations),
        "citation_validity": ratio(sum(r["citations_valid"] for r in rows), citations),
        "answers_with_supporting_citation": mean(r["citations_supporting"] > 0 for r in answered_answerable),
        "latency_ms": {
            stage: {"p50": percentile(v, 50), "p95": percentile(v, 95), "mean": mean(v)}
            for stage in STAGES
            if (v := [r["timings"][stage] for r in rows if stage in r["timings"]])
        },
    }
    if any("misled" in r for r in rows):
        s["misled_rate"] = mean(r.get("misled", False) for r in rows)
        s["fake_recall_at_k"] = mean(r.get("fake_retrieved", False) for r in rows)
    if rules == "multihop":
        with_facts = [r for r in rows if r.get("facts_total")]
        s["hits_at_k"] = mean(r["facts_found"] > 0 for r in with_facts)
        s["hits_at_4"] = mean(r["fact_in_top4"] for r in with_facts)
        s["all_facts_at_k"] = mean(r["facts_found"] == r["facts_total"] for r in with_facts)
        s["fact_recall_at_k"] = mean(r["facts_found"] / r["facts_total"] for r in with_facts)
        s["mrr_at_k"] = mean(r["reciprocal_rank"] for r in with_facts)
        s["official_hit"] = mean(r["official_hit"] for r in rows)
        by_type: dict[str, dict] = {}
        for qtype in sorted({r["question_type"] for r in rows}):
            group = [r for r in rows if r["question_type"] == qtype]
            by_type[qtype] = {
                "n": len(group),
                "official_hit": mean(r["official_hit"] for r in group),
                "answer_accuracy": mean(r["correct"] for r in group),
                "abstention_rate": mean(r["abstained"] for r in group),
                "all_facts_at_k": mean(r["facts_found"] == r["facts_total"] for r in group if r.get("facts_total")),
            }
        s["by_question_type"] = by_type
    return s


def gold_in_corpus(questions: list[dict], articles) -> float | None:
    """Ceiling for retrieval: the share of answerable questions whose gold occurs in some article."""
    haystack = " | ".join(normalize_contained(a.text) for a in articles)
    answerable = [q for q in questions if q["answerable"]]
    if not answerable:
        return None
    found = 0
    for q in answerable:
        needles = [normalize_contained(g) for g in q["golds"] if normalize_contained(g)]  # the rule of `contains`
        found += any(f" {n} " in f" {haystack} " for n in needles)
    return found / len(answerable)


def baselines_for(name: str) -> dict:
    """Published numbers beside ours: computed from the released predictions where they exist."""
    if name == "realtimeqa":
        rescored = ds.realtimeqa_baselines()
        return {
            "kind": "rescored",
            "note": "the authors' released predictions re-scored with bench/metrics.py (generation EM/F1; n=294) and "
                    "their multiple-choice accuracy (n=300); each system was given its question's own search results",
            "rows": [{"system": ds.REALTIMEQA_CONFIG_NAMES.get(c, c), "em": v["em"], "f1": v["f1"],
                      "mc_accuracy": v["mc_accuracy"]} for c, v in sorted(rescored.items(), key=lambda x: -x[1]["f1"])],
        }
    if name == "squad2":
        rescored = ds.squad2_baselines()
        return {
            "kind": "rescored",
            "note": "official SQuAD 2.0 dev predictions re-scored on these 500 with bench/metrics.py (percent); "
                    "the models were GIVEN the paragraph, ours retrieves it from all 411",
            "rows": [{"system": c, "em": v["em"] / 100, "f1": v["f1"] / 100}
                     for c, v in sorted(rescored.items(), key=lambda x: -x[1]["f1"])],
        }
    if name == "multihop":
        return {
            "kind": "reported",
            "note": "reported for the FULL 2,556 queries over the real 609-article corpus (arXiv 2401.15391, via the "
                    "secondary summaries quoted in the eval README); ours retrieves over the gold facts only: not comparable",
            "rows": [
                {"system": "GPT-4 with retrieved chunks", "accuracy": ds.MULTIHOP_REPORTED["gpt4_accuracy_retrieved"]},
                {"system": "GPT-4 with ground-truth evidence", "accuracy": ds.MULTIHOP_REPORTED["gpt4_accuracy_gold_evidence"]},
                {"system": "best retriever (embedding + reranker)", "hits_at_4": ds.MULTIHOP_REPORTED["best_retrieval_hits_at_4"],
                 "hits_at_10": ds.MULTIHOP_REPORTED["best_retrieval_hits_at_10"]},
            ],
        }
    return {"kind": "none", "note": "the RGB repository states no official numbers; none are shown", "rows": []}


NO_SOURCE = "(no search results)"


def question_filters(q: dict, date_filter: bool, own_articles: bool):
    """The question asked as of its date (`asked_then`), or one of two variants:
    `date_filter` keeps articles published up to the question's date; `own_articles` searches only
    the question's own search results (the paper's GCS setting: the published baselines were given
    exactly these). A question with no articles then retrieves nothing."""
    from index.store import Filters

    as_of = q.get("date")
    if own_articles:
        return Filters(sources=q.get("article_keys") or [NO_SOURCE], as_of=as_of)
    if date_filter and as_of:
        return Filters(published_to=as_of, as_of=as_of)
    return asked_then(q)


def run(name: str, limit: int | None = None, k: int = 5, small_corpus: bool = False, date_filter: bool = False,
        out_dir: Path | None = None, keep: bool = False, progress: bool = True, index_dir: Path | None = None,
        embedding_model: str | None = None, own_articles: bool = False) -> dict:
    from index.ingest import ingest

    environment.offline_env()
    dataset = ds.load(name).limited(limit, small_corpus)
    if own_articles:
        dataset.notes = [n for n in dataset.notes if "POOLED" not in n] + [
            "OWN-ARTICLES run: each question searches only its own Google search results (up to 10 articles; none for "
            "some questions), the setting the published baselines were given; the index still holds every article."]
    elif date_filter:
        dataset.notes.append("DATE-FILTERED run: each question retrieves only articles published up to its date.")
    if any(q.get("date") for q in dataset.questions):
        dataset.notes.append("Each question is asked as of its own date (question_date as `as_of`): its time words "
                             "(\"this week\", \"latest\"...) prefer articles of the days before it.")
    code_at_start = environment.code_fingerprint()
    load_started = environment.loadavg()
    if index_dir:  # a kept index: articles already in it are skipped by ingest ("unchanged")
        data_dir, keep = Path(index_dir), True
        data_dir.mkdir(parents=True, exist_ok=True)
    else:
        data_dir = Path(tempfile.mkdtemp(prefix=f"bench-eval-{name}-"))
    out_dir = Path(out_dir or OUT)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "".join([f"_limit{limit}" if limit else "", "_small" if small_corpus else "", "_dated" if date_filter else "",
                      "_own" if own_articles else "", f"_k{k}" if k != 5 else ""])
    path = out_dir / f"eval_{name}{suffix}.json"
    log = (lambda message: print(message, file=sys.stderr, flush=True)) if progress else (lambda message: None)
    try:
        settings, index, engine = build_engine(data_dir, k, embedding_model)
        mark = time.perf_counter()
        index.embeddings.encode(["load the model before timing the ingest"])
        model_load_s = time.perf_counter() - mark
        pruned = 0
        if index_dir:  # a kept index must hold exactly this run's corpus: drop what a larger run left in it
            wanted = {a.doc_id for a in dataset.articles}
            for document in index.documents():
                if document["doc_id"] not in wanted:
                    pruned += index.delete(document["doc_id"])
            if pruned:
                log(f"[{name}] removed {pruned} documents of another run from {data_dir}")
        log(f"[{name}] ingesting {len(dataset.articles)} articles into {data_dir}")
        started = time.perf_counter()
        summary = ingest(index, dataset.articles, batch_size=getattr(settings, "ingest_batch_size", 32), progress=False)
        ingest_s = time.perf_counter() - started
        log(f"[{name}] {summary.line()}")
        mark = time.perf_counter()
        engine.warm_up()
        warm_up_s = time.perf_counter() - mark

        texts: dict[str, str] = {}

        def doc_text(doc_id: str) -> str | None:
            if doc_id not in texts:
                document = index.document(doc_id)
                texts[doc_id] = document["text"] if document else None
            return texts[doc_id]

        rows = []
        for number, q in enumerate(dataset.questions, 1):
            filters = question_filters(q, date_filter, own_articles)
            mark = time.perf_counter()
            result = engine.ask(q["question"], k=k, filters=filters)
            wall_ms = (time.perf_counter() - mark) * 1000
            result.setdefault("timings", {})["wall_ms"] = round(wall_ms, 2)
            rows.append(score_question(q, result, engine.answerer.last_passages, dataset.scoring, doc_text))
            if hasattr(engine.answerer.inner, "last_features"):  # the reader's scores: bench/reader_dev.py fits on them
                reader = engine.answerer.inner
                rows[-1]["reader"] = {**reader.last_features, "reply": reader.last_reply,
                                      "llama": getattr(reader, "last_timings", {})}
            if number % 25 == 0 or number == len(dataset.questions):
                done = summarise(rows, dataset.scoring)
                log(f"[{name}] {number}/{len(dataset.questions)} recall@{k}={_f(done['recall_at_k'])} "
                    f"acc={_f(done['answer_accuracy'])} em={_f(done['em'])} f1={_f(done['f1'])}")
                if number < len(dataset.questions):  # a long run cut short still leaves its rows behind
                    write_json(out_dir / f"eval_{name}{suffix}.partial.json",
                               {"dataset": name, "done": number, "scores": done, "questions": rows}, indent=None)
        scores = summarise(rows, dataset.scoring)
        scores["gold_in_corpus"] = gold_in_corpus(dataset.questions, dataset.articles)
        result = {
            "dataset": name,
            "scoring": dataset.scoring,
            "command": environment.command_line(),
            "limit": limit,
            "small_corpus": small_corpus,
            "date_filter": date_filter,
            "own_articles": own_articles,
            "k": k,
            "notes": dataset.notes,
            "ingest": {
                "reused_index": bool(index_dir) and summary.unchanged > 0,
                "unchanged": summary.unchanged,
                "pruned": pruned,
                "index_passages": index.catalog.count()[1],
                "articles": len(dataset.articles),
                "passages": summary.passages,
                "failed": summary.failed,
                "seconds": round(ingest_s, 2),
                "articles_per_s": len(dataset.articles) / ingest_s if ingest_s else None,
                "passages_per_s": summary.passages / ingest_s if ingest_s else None,
            },
            "model_load_s": round(model_load_s, 2),
            "warm_up_s": round(warm_up_s, 2),
            "engine": {
                "mode": engine.answerer.mode,
                "abstain_threshold": engine.abstain_threshold,
                "settings": {key: str(value) for key, value in settings.model_dump().items()
                             if key in ("top_k", "fetch_k", "rrf_k", "embedding_model", "passage_sentences",
                                        "passage_overlap", "passage_max_chars", "answer_mode", "abstain_threshold",
                                        "reader_model", "reader_sentences")},
                "reader": {key: getattr(engine.answerer, key, None) for key in ("sentences", "previous")},
                "retriever": {key: getattr(engine.retriever, key, None) for key in (
                    "fetch_k", "lexical_weight", "lexical_max_terms", "recency", "recency_boost", "recency_tiebreak",
                    "recency_window_days", "recency_pool")},
            },
            "scores": scores,
            "baselines": baselines_for(name),
            "machine": environment.machine(),
            "code_at_start": code_at_start,
            "loadavg_start": load_started,
            "loadavg_end": environment.loadavg(),
            "questions": rows,
        }
    finally:
        if keep:
            log(f"[{name}] index kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    write_json(path, result)
    (out_dir / f"eval_{name}{suffix}.partial.json").unlink(missing_ok=True)
    result["path"] = str(path)
    return result


def _f(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=[*ALL, "all"])
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--k", type=int, default=5, help="passages retrieved and given to the answerer (default 5)")
    parser.add_argument("--small-corpus", action="store_true",
                        help="index only the articles that come with the selected questions (fast, easier)")
    parser.add_argument("--date-filter", action="store_true",
                        help="RealTime QA: only retrieve articles published up to the question's date")
    parser.add_argument("--own-articles", action="store_true",
                        help="RealTime QA: each question searches only its own search results, as the published baselines did")
    parser.add_argument("--out-dir", type=Path, help="where the JSON goes (default bench/out)")
    parser.add_argument("--keep-index", action="store_true", help="keep the temporary index folder")
    parser.add_argument("--index-dir", type=Path,
                        help="build the index here and keep it; a later run with the same folder skips re-embedding "
                             "(ingest then reports the articles as unchanged)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--embedding-model", help="override the embedding model (`hash` = the fast fake, for smoke tests only)")
    args = parser.parse_args(argv)

    names = ALL if args.dataset == "all" else (args.dataset,)
    for name in names:
        index_dir = args.index_dir / name if args.index_dir and args.dataset == "all" else args.index_dir
        result = run(name, args.limit, args.k, args.small_corpus, args.date_filter, args.out_dir, args.keep_index,
                     progress=not args.quiet, index_dir=index_dir, embedding_model=args.embedding_model,
                     own_articles=args.own_articles)
        print(render_eval(result))
        print(f"\n(results: {result['path']})\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
