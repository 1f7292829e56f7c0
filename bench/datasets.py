"""Turn the shared evaluation sets into (articles, questions) for the bench scripts.

Each loader returns a `Dataset`: the articles to ingest (as `index.documents.Article`) and the
questions as dicts

    {"id", "question", "golds": [str], "answerable": bool, ...extras}

`golds` are alternatives (any one counts). The files are read in place from the shared eval folder
(`NEWSQA_EVAL_DIR`, default `../shared/eval` beside the repository); nothing is copied.
How each corpus is built is a choice that changes the difficulty, so every loader states it in
`Dataset.notes`, and the eval script prints those notes with the numbers.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.lib import eval_dir
from index.documents import Article


@dataclass
class Dataset:
    name: str
    articles: list[Article]
    questions: list[dict]
    scoring: str  # "realtimeqa" | "squad2" | "rgb" | "multihop": which rules bench/metrics.py applies
    notes: list[str] = field(default_factory=list)

    def limited(self, limit: int | None, small_corpus: bool = False) -> Dataset:
        """The first `limit` questions; with `small_corpus`, only the articles those questions came with."""
        questions = self.questions[:limit] if limit else list(self.questions)
        articles = self.articles
        notes = list(self.notes)
        if small_corpus:
            keys = {key for q in questions for key in q.get("article_keys", [])}
            articles = [a for a in self.articles if a.key in keys]
            notes.append(f"SMALL CORPUS: only the {len(articles)} articles that come with the selected questions were "
                         "indexed (easier than the full pool).")
        return Dataset(self.name, articles, questions, self.scoring, notes)


def _digest(text: str, size: int = 12) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:size]


def _first_words(text: str, words: int = 8) -> str:
    head = text.split()
    return " ".join(head[:words]) + (" …" if len(head) > words else "")


def _iso_date(value: str | None) -> str | None:
    """'2023/01/05' or '2023-10-04T23:32:53+00:00' -> '2023-01-05'; anything else -> None."""
    if not value or not isinstance(value, str):
        return None
    candidate = value.strip()[:10].replace("/", "-")
    parts = candidate.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4:
        return f"{parts[0]}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    return None


# --- RealTime QA --------------------------------------------------------------------------------

def _realtimeqa_golds(record: dict) -> list[str]:
    """The official generation golds: the correct choice texts, every permutation joined by spaces."""
    texts = [record["choices"][int(i)] for i in record["answer"]]
    return [" ".join(p) for p in itertools.permutations(texts)]


def is_except_question(sentence: str) -> bool:
    """The official scorer skips questions like 'All of these happened this week except'."""
    return "except" in sentence.lower().strip()[-10:]


def load_realtimeqa(root: Path | None = None) -> Dataset:
    folder = (root or eval_dir()) / "realtimeqa" / "past" / "2023"
    weeks = sorted(glob.glob(str(folder / "*_gcs.jsonl")))
    if not weeks:
        raise FileNotFoundError(f"no RealTime QA *_gcs.jsonl files under {folder}")
    articles: dict[str, Article] = {}
    questions: list[dict] = []
    skipped = 0
    for gcs_path in weeks:
        qa_path = gcs_path.replace("_gcs.jsonl", "_qa.jsonl")
        with open(qa_path, encoding="utf-8") as qa_file, open(gcs_path, encoding="utf-8") as gcs_file:
            qa_lines = [json.loads(line) for line in qa_file if line.strip()]
            gcs_lines = [json.loads(line) for line in gcs_file if line.strip()]
        if len(qa_lines) != len(gcs_lines):
            raise ValueError(f"{qa_path} and {gcs_path} are not line-aligned")
        for record, search in zip(qa_lines, gcs_lines):
            if record["question_id"] != search["question_id"]:
                raise ValueError(f"question ids differ: {record['question_id']} vs {search['question_id']}")
            keys = []
            for result in search.get("search_result", []):
                text, url = result.get("text"), result.get("url")
                if not text or not text.strip() or not url:
                    continue
                keys.append(url)
                if url in articles:  # first copy wins: 3 URLs come back with slightly different text
                    continue
                authors = result.get("authors") or []
                articles[url] = Article(
                    text=text,
                    title=(result.get("title") or "").strip() or _first_words(text),
                    source=url,
                    published=_iso_date(result.get("publish_date")),
                    author=", ".join(authors) if isinstance(authors, list) else str(authors),
                    key=url,
                )
            if is_except_question(record["question_sentence"]):
                skipped += 1
                continue
            questions.append({
                "id": record["question_id"],
                "question": record["question_sentence"],
                "golds": _realtimeqa_golds(record),
                "answerable": bool(record["answer"]),
                "date": _iso_date(record.get("question_date")),
                "source": record.get("question_source"),
                "choices": record["choices"],
                "answer_index": record["answer"],
                "article_keys": keys,
            })
    notes = [
        f"{len(weeks)} weeks with Google Custom Search articles; {len(questions)} questions scored "
        f"({skipped} ending in 'except' skipped, as the official scorer does).",
        f"Retrieval is over the POOLED {len(articles)} unique articles of all weeks (keyed by URL), not each "
        "question's own 10 search results as in the paper's GCS setting.",
        "The released baselines are multiple-choice / generation systems given the question's own search results.",
    ]
    return Dataset("realtimeqa", list(articles.values()), questions, "realtimeqa", notes)


def realtimeqa_baselines(root: Path | None = None) -> dict[str, dict]:
    """Re-score the authors' released predictions with our scorer: config -> {em, f1, n, mc_accuracy}.

    The numbers are computed, not typed in; they match the README (open_gpt3_gcs 0.306 / 0.408)."""
    from bench.metrics import realtimeqa_em, realtimeqa_f1

    folder = (root or eval_dir()) / "realtimeqa"
    weeks = [Path(p).name.split("_")[0] for p in sorted(glob.glob(str(folder / "past" / "2023" / "*_gcs.jsonl")))]
    configs = sorted({Path(p).name.split("_qa_")[1][: -len("_gen.jsonl")]
                      for p in glob.glob(str(folder / "baseline_results" / "2023" / "*_gen.jsonl"))})
    out: dict[str, dict] = {}
    for config in configs:
        em = f1 = n = mc_right = mc_n = 0
        for week in weeks:
            gold_path = folder / "past" / "2023" / f"{week}_qa.jsonl"
            gen_path = folder / "baseline_results" / "2023" / f"{week}_qa_{config}_gen.jsonl"
            mc_path = folder / "baseline_results" / "2023" / f"{week}_qa_{config}.jsonl"
            if not gen_path.exists():
                continue
            golds = [json.loads(line) for line in open(gold_path, encoding="utf-8") if line.strip()]
            preds = [json.loads(line) for line in open(gen_path, encoding="utf-8") if line.strip()]
            for gold, pred in zip(golds, preds):
                if is_except_question(gold["question_sentence"]):
                    continue
                answers = _realtimeqa_golds(gold)
                em += max(realtimeqa_em(pred["prediction"], g) for g in answers)
                f1 += max(realtimeqa_f1(pred["prediction"], g) for g in answers)
                n += 1
            if mc_path.exists():
                mc = [json.loads(line) for line in open(mc_path, encoding="utf-8") if line.strip()]
                for gold, pred in zip(golds, mc):
                    mc_right += int(pred["prediction"] == gold["answer"])
                    mc_n += 1
        if n:
            out[config] = {"em": em / n, "f1": f1 / n, "n": n,
                           "mc_accuracy": mc_right / mc_n if mc_n else None, "mc_n": mc_n}
    return out


REALTIMEQA_CONFIG_NAMES = {
    "open_gpt3_gcs": "GPT-3 + Google search (open_gpt3_gcs)",
    "closed_gpt3": "GPT-3 closed-book (closed_gpt3)",
    "open_gpt3_dpr": "GPT-3 + DPR over Wikipedia (open_gpt3_dpr)",
    "open_rag_gcs": "RAG + Google search (open_rag_gcs)",
    "closed_t5": "T5 closed-book (closed_t5)",
    "open_rag_dpr": "RAG + DPR over Wikipedia (open_rag_dpr)",
}


# --- SQuAD 2.0 (500) ----------------------------------------------------------------------------

def load_squad2(root: Path | None = None) -> Dataset:
    folder = (root or eval_dir()) / "squad2_500"
    queries = json.loads((folder / "queries.json").read_text(encoding="utf-8"))["queries"]
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    articles: dict[str, Article] = {}
    questions = []
    for item in queries:
        context = item["context"]
        key = f"squad2:{_digest(context)}"
        if key not in articles:
            articles[key] = Article(text=context, title=_first_words(context), source=f"squad2_500/{item['id']}", key=key)
        gold = truth[item["id"]]
        impossible = bool(gold["is_impossible"])
        questions.append({
            "id": item["id"],
            "question": item["question"],
            "golds": [""] if impossible else list(gold["answers"]),
            "answerable": not impossible,
            "article_keys": [key],
        })
    notes = [
        f"{len(questions)} questions ({sum(not q['answerable'] for q in questions)} unanswerable), "
        f"{len(articles)} unique Wikipedia paragraphs.",
        f"Retrieval is over ALL {len(articles)} paragraphs; the published systems were GIVEN the question's paragraph.",
        "Paragraph titles are the paragraph's first 8 words (SQuAD's article titles are not in the sample).",
    ]
    return Dataset("squad2", list(articles.values()), questions, "squad2", notes)


def squad2_baselines(root: Path | None = None) -> dict[str, dict]:
    """Official full-dev predictions of leaderboard models, re-scored on these 500 by our scorer."""
    from bench.metrics import em_f1

    folder = (root or eval_dir()) / "squad2_500"
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    out = {}
    for path in sorted((folder / "models" / "v2.0").glob("*.json")):
        predictions = json.loads(path.read_text(encoding="utf-8"))
        scores = [em_f1(predictions.get(qid, ""), v["answers"], "squad2") for qid, v in truth.items()]
        out[path.stem] = {"em": 100 * sum(s[0] for s in scores) / len(scores),
                          "f1": 100 * sum(s[1] for s in scores) / len(scores), "n": len(scores)}
    return out


# --- RGB en_fact --------------------------------------------------------------------------------

def _rgb_groups(answer) -> list[list[str]]:
    """RGB gold: a string, or a list whose elements must all match (an inner list = alternatives)."""
    if isinstance(answer, str):
        return [[answer]]
    return [[a] if isinstance(a, str) else list(a) for a in answer]


def load_rgb(root: Path | None = None, counterfactual: bool = False) -> Dataset:
    """One pool of snippets from all 100 questions.

    clean (`rgb`): every question's `positive` + `negative` snippets. counterfactual
    (`rgb_counterfactual`): `positive_wrong` + `negative`, so the true answer is (almost) nowhere in
    the pool and the snippets assert the `fakeanswer` instead: it measures how often the engine
    repeats the planted error (`misled`) or abstains, not accuracy.
    """
    path = (root or eval_dir()) / "rgb" / "data" / "en_fact.json"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    articles: dict[str, Article] = {}
    questions = []
    kinds = ("positive_wrong", "negative") if counterfactual else ("positive", "negative")
    for record in records:
        keys = []
        for kind in kinds:
            for snippet in record.get(kind) or []:
                if not snippet.strip():
                    continue
                key = f"rgb:{_digest(snippet)}"
                keys.append(key)
                if key not in articles:  # identical snippets across questions are indexed once
                    articles[key] = Article(text=snippet, title=_first_words(snippet),
                                            source=f"rgb/en_fact/{record['id']}/{kind}", key=key)
        groups = _rgb_groups(record["answer"])
        questions.append({
            "id": str(record["id"]),
            "question": record["query"],
            "golds": [alt for group in groups for alt in group],
            "gold_groups": groups,
            "fake_golds": [record["fakeanswer"]] if counterfactual and record.get("fakeanswer") else [],
            "answerable": True,
            "article_keys": keys,
        })
    name = "rgb_counterfactual" if counterfactual else "rgb"
    notes = [
        f"RGB en_fact: {len(questions)} questions; one pooled index of {len(articles)} unique snippets "
        f"({' + '.join(kinds)} of all questions), retrieved across questions (RGB itself hands each question 5 of its own).",
    ]
    if counterfactual:
        notes.append("COUNTERFACTUAL: the pool has the positive_wrong snippets (answer replaced by `fakeanswer`) "
                     "instead of the true ones. An extractive engine cannot flag factual errors (RGB's ED/CR are 0 "
                     "by construction); read `misled` (answer contains the fake answer) and abstention.")
    else:
        notes.append("Accuracy follows RGB's rule: every gold element is a case-insensitive substring of the answer "
                     "(any alternative of an inner list) and the answer does not abstain.")
    return Dataset(name, list(articles.values()), questions, "rgb", notes)


# --- MultiHop-RAG (500) -------------------------------------------------------------------------

MULTIHOP_REPORTED = {  # arXiv 2401.15391 via secondary summaries (eval README): full 2,556 queries, real corpus
    "gpt4_accuracy_retrieved": 0.56,
    "gpt4_accuracy_gold_evidence": 0.89,
    "best_retrieval_hits_at_10": 0.7467,
    "best_retrieval_hits_at_4": 0.6625,
    "best_retrieval_mrr_at_10": 0.5860,
}


def load_multihop(root: Path | None = None) -> Dataset:
    folder = (root or eval_dir()) / "multihop_rag_500"
    queries = json.loads((folder / "queries.json").read_text(encoding="utf-8"))["queries"]
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    articles: dict[str, Article] = {}
    questions = []
    for item in queries:
        gold = truth[item["id"]]
        keys, facts = [], []
        for evidence in gold.get("evidence_list") or []:
            fact, url = evidence.get("fact") or "", evidence.get("url") or ""
            if not fact.strip():
                continue
            key = f"{url}#{_digest(fact)}"
            keys.append(key)
            facts.append(fact)
            if key not in articles:
                articles[key] = Article(
                    text=fact,
                    title=(evidence.get("title") or "").strip() or _first_words(fact),
                    source=url or f"multihop/{item['id']}",
                    published=_iso_date(evidence.get("published_at")),
                    author=evidence.get("author"),
                    subject=evidence.get("category"),
                    key=key,
                )
        null = item.get("question_type") == "null_query"
        questions.append({
            "id": item["id"],
            "question": item["question"],
            "golds": [""] if null else [str(gold["answer"])],
            "raw_answer": str(gold["answer"]),
            "answerable": not null,
            "question_type": item.get("question_type"),
            "evidence_facts": facts,
            "article_keys": keys,
        })
    notes = [
        f"{len(questions)} questions; retrieval is over the {len(articles)} gold EVIDENCE FACTS ONLY (each fact one "
        "document, with its article's title, URL, date, author and category), NOT the 609-article MultiHop-RAG corpus, "
        "which is not available offline. This pool is much easier than the real one: numbers are not comparable "
        "to the paper's.",
        "null_query questions (gold 'Insufficient information.') count as unanswerable: the right output is an abstention.",
        "Most golds are Yes/No or a name: an extractive engine cannot say Yes/No, so answer containment is low by "
        "construction; the official metric is a shared lower-cased token between prediction and gold.",
        "The publisher names the questions mention (TechCrunch, The Verge, ...) are metadata, not article text.",
    ]
    return Dataset("multihop", list(articles.values()), questions, "multihop", notes)


LOADERS: dict[str, Callable[[], Dataset]] = {
    "realtimeqa": load_realtimeqa,
    "squad2": load_squad2,
    "rgb": load_rgb,
    "rgb_counterfactual": lambda: load_rgb(counterfactual=True),
    "multihop": load_multihop,
}


def load(name: str) -> Dataset:
    try:
        loader = LOADERS[name]
    except KeyError:
        raise SystemExit(f"unknown dataset {name!r}; valid: {', '.join(LOADERS)}, all") from None
    return loader()
