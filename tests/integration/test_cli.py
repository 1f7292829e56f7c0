"""The command line as a user runs it: real processes, real Chroma; the fake embedding keeps it quick
except for `ask`, which uses the real bundled models."""

import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT, SAMPLE


def run(*args, data_dir, stdin=None, fake=True):
    env = {**os.environ, "NEWSQA_EMBEDDING_MODEL": "hash"} if fake else dict(os.environ)
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args, "--data-dir", str(data_dir)], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=300)


@pytest.fixture
def batch(tmp_path):
    folder = tmp_path / "in"
    (folder / "nested").mkdir(parents=True)
    (folder / "good.txt").write_text("Floods hit the valley\nHeavy rain flooded the valley on Monday. Rescuers arrived.")
    (folder / "nested" / "more.md").write_text("# Election day\nVoters queued from dawn. Turnout was high.")
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (folder / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (folder / "bad.jsonl").write_text('{"title": "Ok", "text": "A fine article."}\n{not json\n')
    return folder


def test_ingest_reports_bad_files_and_keeps_the_rest(batch, tmp_path):
    result = run("ingest", str(batch), "--quiet", data_dir=tmp_path / "d")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 4
    for name in ("empty.txt", "binary.txt", "latin1.txt", "bad.jsonl"):
        assert any(name in line for line in errors), name
    assert "3 added" in result.stdout and "4 failed" in result.stdout

    listed = json.loads(run("documents", "--json", data_dir=tmp_path / "d").stdout)
    assert sorted(d["title"] for d in listed) == ["Election day", "Floods hit the valley", "Ok"]
    assert all(set(d) >= {"doc_id", "title", "source", "published", "passages"} and d["passages"] >= 1 for d in listed)

    again = run("ingest", str(batch), "--quiet", "--json", data_dir=tmp_path / "d")
    summary = json.loads(again.stdout)
    assert (summary["added"], summary["unchanged"], summary["failed"]) == (0, 3, 4)

    doc_id = listed[0]["doc_id"]
    assert run("delete", doc_id, data_dir=tmp_path / "d").returncode == 0
    assert run("delete", doc_id, data_dir=tmp_path / "d").returncode == 1
    assert len(json.loads(run("documents", "--json", data_dir=tmp_path / "d").stdout)) == 2


def test_ingest_from_stdin(tmp_path):
    csv_text = "title,text,subject,date\nBridge opens,The new bridge opened to traffic on Friday.,news,\"December 31, 2017\"\n"
    result = run("ingest", "-", "--quiet", data_dir=tmp_path / "d", stdin=csv_text)
    assert result.returncode == 0, result.stderr
    [doc] = json.loads(run("documents", "--json", data_dir=tmp_path / "d").stdout)
    assert doc["title"] == "Bridge opens" and doc["published"] == "2017-12-31"


def test_help_everywhere(tmp_path):
    for command in ("ingest", "documents", "delete", "ask", "serve"):
        result = subprocess.run([sys.executable, str(ROOT / "app.py"), command, "--help"], capture_output=True, text=True)
        assert result.returncode == 0 and "--data-dir" in result.stdout


def test_ask_on_the_bundled_sample_with_real_models(tmp_path):
    """`ask` indexes the sample into an empty index, then answers from it; stdin gives one JSON line per question."""
    questions = "Who brokered the deal?\nWhat is the capital of Australia?\n"
    result = run("ask", "--json", data_dir=tmp_path / "d", stdin=questions, fake=False)
    assert result.returncode == 0, result.stderr
    found, missing = [json.loads(line) for line in result.stdout.splitlines()]
    assert "council and tribal elders" in (found["short_answer"] or "")
    assert found["abstained"] is False
    text = SAMPLE.read_text()
    for citation in found["citations"]:
        assert text[citation["start"] : citation["end"]] == citation["evidence"]
    assert "brokered by the council and tribal elders" in found["citations"][0]["evidence"]
    assert missing["abstained"] is True and missing["citations"] == []
    assert set(found) >= {"question", "standalone_question", "answer", "short_answer", "abstained", "citations", "mode", "timings"}


def test_ask_refuses_an_index_built_with_another_embedding_model(tmp_path):
    assert run("ingest", str(SAMPLE), "--quiet", data_dir=tmp_path / "d").returncode == 0  # the fake model
    result = run("ask", "Who brokered the deal?", data_dir=tmp_path / "d", fake=False)
    assert result.returncode == 2
    assert "built with the embedding model 'hash:64'" in result.stderr and "NEWSQA_EMBEDDING_MODEL" in result.stderr


def test_reindex_moves_an_index_to_the_real_model(tmp_path):
    assert run("ingest", str(SAMPLE), "--quiet", data_dir=tmp_path / "d").returncode == 0  # the fake model
    result = run("reindex", data_dir=tmp_path / "d", fake=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("re-embedded ") and "bundled:paraphrase-MiniLM-L3-v2" in result.stdout
    answer = json.loads(run("ask", "Who brokered the deal?", "--json", data_dir=tmp_path / "d", fake=False).stdout)
    assert "council and tribal elders" in (answer["short_answer"] or "")


def test_ask_filters_by_source_and_date(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        '{"title": "Dam opens", "text": "The new dam opened in the valley on Monday.", "url": "https://a.example/dam", "date": "2023-01-05"}\n'
        '{"title": "Dam closes", "text": "The old dam closed in the valley on Friday.", "url": "https://b.example/dam", "date": "2023-03-01"}\n')
    assert run("ingest", str(folder), "--quiet", data_dir=tmp_path / "d").returncode == 0
    late = run("ask", "What happened to the dam in the valley?", "--json", "--from", "2023-02-01", data_dir=tmp_path / "d")
    assert {c["source"] for c in json.loads(late.stdout)["citations"]} == {"https://b.example/dam"}
    only_a = run("ask", "What happened to the dam in the valley?", "--json", "--source", "https://a.example/dam", data_dir=tmp_path / "d")
    assert {c["source"] for c in json.loads(only_a.stdout)["citations"]} == {"https://a.example/dam"}
    bad = run("ask", "What happened?", "--from", "yesterday", data_dir=tmp_path / "d")
    assert bad.returncode == 2 and "is not a date" in bad.stderr
