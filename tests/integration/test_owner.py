"""One process at a time holds an embedded data directory (index/owner.py), and `check`/`repair`
find and mend a vector index that no longer matches the catalog.

The two-process cases run real processes on real embedded Chroma: a real `app.py serve` and real
command-line commands beside it."""

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

from core.errors import DataDirBusy
from core.settings import Settings
from index import owner
from index.loaders import load_paths
from index.store import ArticleIndex
from tests.support import ROOT, SAMPLE, free_port, start_serve

HOLD = """
import time
from index import owner
owner.claim(__import__("pathlib").Path({data!r}), "test holder")
print("held", flush=True)
time.sleep(120)
"""


def app(*args, data_dir, env, timeout=300, stdin=None):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args, "--data-dir", str(data_dir)], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env():
    return {**os.environ, "NEWSQA_EMBEDDING_MODEL": "hash", "NEWSQA_ANSWER_WORKERS": "0", "NEWSQA_API_KEYS": "[]"}


def in_the_checkout() -> dict:
    """`subprocess` options that let a `python -c` child import the project, as pytest's `pythonpath` does here."""
    return {"cwd": ROOT, "env": {**os.environ, "PYTHONPATH": str(ROOT)}}


def hold_in_another_process(data_dir):
    process = subprocess.Popen([sys.executable, "-c", HOLD.format(data=str(data_dir))],
                               stdout=subprocess.PIPE, text=True, **in_the_checkout())
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_held_data_dir_is_refused_with_the_holder_named_and_freed_by_kill_9(tmp_path):
    data_dir = tmp_path / "data"
    holder = hold_in_another_process(data_dir)
    try:
        settings = Settings(data_dir=data_dir, embedding_model="hash", _env_file=None)
        with pytest.raises(DataDirBusy) as refused:
            ArticleIndex.from_settings(settings)
        assert refused.value.holder.pid == holder.pid and refused.value.holder.command == "test holder"
        assert "in use by `test holder`" in str(refused.value) and "NEWSQA_CHROMA_HOST" in str(refused.value)
        assert owner.current_holder(data_dir).pid == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert owner.current_holder(data_dir) is None  # the lock died with its process
    index = ArticleIndex.from_settings(settings)
    index.close()


def test_one_process_may_open_its_index_twice_and_close_lets_others_in(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", embedding_model="hash", _env_file=None)
    first, second = ArticleIndex.from_settings(settings), ArticleIndex.from_settings(settings)
    first.close()
    probe = subprocess.run([sys.executable, "-c", HOLD.format(data=str(settings.data_dir)).replace("time.sleep(120)", "")],
                           capture_output=True, text=True, timeout=60, **in_the_checkout())
    assert probe.returncode != 0 and "DataDirBusy" in probe.stderr  # still held by `second`
    second.close()
    probe = subprocess.run([sys.executable, "-c", HOLD.format(data=str(settings.data_dir)).replace("time.sleep(120)", "")],
                           capture_output=True, text=True, timeout=60, **in_the_checkout())
    assert probe.returncode == 0, probe.stderr


def test_a_command_waits_for_another_command_to_finish(tmp_path, env):
    data_dir = tmp_path / "data"
    holder = hold_in_another_process(data_dir)
    waiting = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "ingest", str(SAMPLE), "--quiet", "--data-dir", str(data_dir)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    assert waiting.poll() is None, waiting.communicate()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert "waiting:" in err and "test holder" in err and "1 added" in out


def write_articles(folder, count):
    folder.mkdir()
    sentences = [line for line in SAMPLE.read_text().split("\n") if line]
    for i in range(count):
        body = " ".join(sentences[(i + j) % len(sentences)] for j in range(8))
        (folder / f"story_{i:03d}.jsonl").write_text(json.dumps(
            {"title": f"Story {i}", "text": body, "date": f"2021-0{1 + i % 9}-1{i % 10}", "source": "Oldham Gazette"}) + "\n")


def test_commands_beside_a_running_server_go_through_it_and_the_index_stays_whole(tmp_path, env):
    """The reported corruption: `serve` on a folder, `ingest` on the same folder from the command line,
    then the server ingests too. Now the command-line ingest goes through the server, a second server
    and `reindex` are refused, and catalog and vectors agree id for id afterwards."""
    data_dir, port = tmp_path / "data", free_port()
    write_articles(tmp_path / "cli", 40)
    write_articles(tmp_path / "upload", 30)
    server = start_serve(data_dir, port, env, tmp_path / "server.log", ready=lambda: owner.current_holder(data_dir).url)
    base = f"http://127.0.0.1:{port}"
    try:

        ingested = app("ingest", str(tmp_path / "cli"), "--json", data_dir=data_dir, env=env)
        assert ingested.returncode == 0, ingested.stderr
        assert f"held by the server at {base}" in ingested.stderr
        assert json.loads(ingested.stdout)["added"] == 40

        files = [("files", (path.name, path.read_bytes())) for path in sorted((tmp_path / "upload").iterdir())]
        assert httpx.post(f"{base}/api/documents", files=files, timeout=120).status_code == 200

        second = app("serve", "--port", str(free_port()), data_dir=data_dir, env=env, timeout=120)
        assert second.returncode == 2 and "in use by `app.py serve`" in second.stderr and base in second.stderr
        reindex = app("reindex", data_dir=data_dir, env=env)
        assert reindex.returncode == 2 and "in use by `app.py serve`" in reindex.stderr

        checked = app("check", "--json", data_dir=data_dir, env=env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert json.loads(checked.stdout)["ok"] is True
        health = httpx.get(f"{base}/api/health", params={"full": "true"}, timeout=30).json()
        assert health["status"] == "ok" and health["index"]["missing"] == 0 and health["index"]["orphaned"] == 0

        dated = httpx.post(f"{base}/api/ask", json={"question": "Who brokered the deal?",
                                                     "filters": {"published_from": "2021-01-01"}}, timeout=60)
        assert dated.status_code == 200, dated.text
        asked = app("ask", "Who brokered the deal?", "--json", "--from", "2021-01-01", data_dir=data_dir, env=env)
        assert asked.returncode == 0, asked.stderr
        assert all(c["published"] >= "2021-01-01" for c in json.loads(asked.stdout)["citations"])
        listed = json.loads(app("documents", "--json", data_dir=data_dir, env=env).stdout)
        assert len(listed) == 71  # the sample, 40 from the command line, 30 uploaded
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        server.log.close()

    index = ArticleIndex.from_settings(Settings(data_dir=data_dir, embedding_model="hash", _env_file=None))
    try:
        assert index.check().ok
        chroma_ids = index.vectors.ids()
        assert len(chroma_ids) == len(set(chroma_ids)) == sum(d["passages"] for d in index.documents())
    finally:
        index.close()


def test_check_finds_and_repair_mends_missing_and_stray_vectors(tmp_path, env):
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, embedding_model="hash", _env_file=None)
    index = ArticleIndex.from_settings(settings)
    index.add(item for item in load_paths([SAMPLE]))
    passages = sorted(index.catalog.passage_ids())
    assert index.check().ok and len(passages) >= 4
    lost = passages[:3]
    index.vectors.delete_ids(lost)
    stray = index.vectors.collection.get(ids=[passages[3]], include=["embeddings", "metadatas", "documents"])
    index.vectors.collection.add(ids=["ghost:v0:0"], embeddings=np.asarray(stray["embeddings"]),
                                 metadatas=stray["metadatas"], documents=stray["documents"])

    found = index.check()
    assert not found.ok and found.missing == lost and found.orphaned == ["ghost:v0:0"]
    assert index.health()["index"]["state"].startswith("inconsistent")
    index.close()

    checked = app("check", data_dir=data_dir, env=env)
    assert checked.returncode == 1 and "3 of" in checked.stdout and "repair" in checked.stdout
    repaired = app("repair", data_dir=data_dir, env=env)
    assert repaired.returncode == 0, repaired.stderr
    assert "re-embedded 3 passages, deleted 1 stray vectors" in repaired.stdout
    assert app("check", data_dir=data_dir, env=env).returncode == 0

    index = ArticleIndex.from_settings(settings)
    try:
        assert set(index.vectors.ids()) == index.catalog.passage_ids()
        row = index.catalog.passages([lost[0]])[lost[0]]
        expected = index._encode([index.embedding_text(row["title"], _passage(index, lost[0]))])[0]
        stored = index.vectors.collection.get(ids=[lost[0]], include=["embeddings"])["embeddings"][0]
        assert np.allclose(stored, expected, atol=1e-5)  # the re-embedded vector is the passage's own
    finally:
        index.close()


def _passage(index, passage_id):
    from index.documents import Passage

    row = index.catalog.passages([passage_id])[passage_id]
    return Passage(row["doc_id"], row["version"], row["idx"], row["start"], row["end"], row["text"], row["sentences"])
