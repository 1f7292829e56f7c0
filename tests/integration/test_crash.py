"""kill -9 a real ingest process at several points, run it again, and check the index is consistent."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

from core.settings import Settings
from index.store import ArticleIndex
from tests.support import ROOT, SAMPLE


def write_articles(folder, count):
    sentences = [s for s in SAMPLE.read_text().split("\n") if s]
    rng = random.Random(7)
    folder.mkdir()
    for i in range(count):
        body = " ".join(rng.sample(sentences, 12))
        (folder / f"article_{i:04d}.txt").write_text(f"Story number {i}\n{body}\n")


def kill_when(process, reached, timeout: float = 120) -> bool:
    """SIGKILL `process` as soon as `reached()` is true (polled), as a machine failing would. Progress,
    not a delay, decides when: a fixed delay let a fast machine finish first. False when the process
    ended before."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and not reached() and time.monotonic() < deadline:
        time.sleep(0.02)
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    return True


def committed(data_dir) -> int:
    """Documents in the SQLite catalog now, read beside the ingest that writes it (a reader does not
    block SQLite's writer)."""
    path = data_dir / "catalog.sqlite3"
    if not path.exists():
        return 0
    try:
        with closing(sqlite3.connect(path, timeout=5)) as db:
            return db.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def run_ingest(articles, data_dir, env):
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), "ingest", str(articles), "--data-dir", str(data_dir), "--quiet", "--json"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_during_ingest_then_rerun_is_consistent(tmp_path):
    articles, data_dir = tmp_path / "articles", tmp_path / "data"
    write_articles(articles, 400)
    env = {**os.environ, "NEWSQA_EMBEDDING_MODEL": "hash", "NEWSQA_INGEST_BATCH_SIZE": "8"}
    kills = 0
    for at_least in (40, 120, 200):  # three runs, each killed once the catalog holds this many of the 400
        process = run_ingest(articles, data_dir, env)
        kills += kill_when(process, lambda n=at_least: committed(data_dir) >= n)
        process.wait()
    assert kills >= 1, "ingest finished before it could be killed; give it more articles"

    index = ArticleIndex.from_settings(Settings(data_dir=data_dir, embedding_model="hash", _env_file=None))
    partial = len(index.documents())
    assert partial < 400
    index.close()  # one process at a time holds an embedded index: let the ingest below have it

    final = run_ingest(articles, data_dir, env)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    summary = json.loads(out)
    assert summary["added"] + summary["unchanged"] == 400 and summary["failed"] == 0

    index = ArticleIndex.from_settings(Settings(data_dir=data_dir, embedding_model="hash", _env_file=None))
    docs = index.documents()
    assert len(docs) == 400
    chroma_ids = index.vectors.ids()
    assert len(chroma_ids) == len(set(chroma_ids))
    assert set(chroma_ids) == index.catalog.passage_ids()
    assert sum(d["passages"] for d in docs) == len(chroma_ids)
    assert index.catalog.pending() == []


def test_two_concurrent_ingests_into_one_data_dir_stay_consistent(tmp_path):
    """A server upload and a command-line ingest may overlap: neither may clean away the other's vectors."""
    env = {**os.environ, "NEWSQA_EMBEDDING_MODEL": "hash", "NEWSQA_INGEST_BATCH_SIZE": "4"}
    data_dir = tmp_path / "data"
    write_articles(tmp_path / "a", 60)
    write_articles(tmp_path / "b", 60)  # same texts, different files: different ids
    processes = [run_ingest(tmp_path / name, data_dir, env) for name in ("a", "b")]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    index = ArticleIndex.from_settings(Settings(data_dir=data_dir, embedding_model="hash", _env_file=None))
    assert len(index.documents()) == 120
    chroma_ids = index.vectors.ids()
    assert len(chroma_ids) == len(set(chroma_ids)) and set(chroma_ids) == index.catalog.passage_ids()
