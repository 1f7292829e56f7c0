"""The REST API through the ASGI app, with the real engine (MiniLM, spaCy, Chroma) on a temp data dir.

The app is built once per module (loading the models takes seconds); tests that need other settings
(upload limit, API keys, a Chroma server) build a second app around the same engine.
"""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant import feedback
from assistant.engine import AnswerEngine
from assistant.server import build_app
from index.store import ArticleIndex
from tests.live_server import EXPECTED, QUESTION, sample_article

CONTRACT_KEYS = {"question", "standalone_question", "answer", "short_answer", "abstained", "confidence", "citations", "mode", "timings"}
CITATION_KEYS = {"n", "doc_id", "title", "source", "published", "passage", "passage_start", "evidence", "start", "end"}
FESTIVAL = (
    "Harbour festival returns to Quokka Bay\n"
    "The Quokka Bay Lantern Festival was organised by Mayor Penelope Zarkov this year.\n"
    "The lantern festival drew 40,000 visitors to the harbour on Saturday night.\n"
    "Zarkov said the lantern festival would return next spring."
)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as client:
        yield client


def variant(app, **overrides):
    """A second app on the same engine and data dir, with some settings changed."""
    return build_app(app.state.settings.model_copy(update=overrides), engine=app.state.engine)


def sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        events.append((fields.get("event"), json.loads(fields["data"])))
    return events


# --- asking ------------------------------------------------------------------------------------

def test_ask_returns_the_contract_with_citations_that_point_into_the_document(client):
    response = client.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) >= CONTRACT_KEYS
    assert answer["question"] == QUESTION and answer["abstained"] is False and answer["mode"] == "extractive"
    assert EXPECTED in answer["answer"]
    assert answer["citations"] and "[1]" in answer["answer"]
    for citation in answer["citations"]:
        assert set(citation) >= CITATION_KEYS
        document = client.get(f"/api/documents/{citation['doc_id']}").json()
        assert document["text"][citation["start"] : citation["end"]] == citation["evidence"]
        start = citation["passage_start"]
        assert document["text"][start : start + len(citation["passage"])] == citation["passage"]
    assert any(EXPECTED in c["evidence"] for c in answer["citations"])
    assert answer["timings"]["total_ms"] > 0


def test_ask_stream_sends_rewrite_tokens_and_the_answer(client):
    response = client.post("/api/ask/stream", json={"question": QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "rewrite" and names[-1] == "answer" and "token" in names
    assert events[0][1] == {"standalone_question": QUESTION}
    answer = events[-1][1]
    assert set(answer) >= CONTRACT_KEYS and EXPECTED in answer["answer"]
    assert "".join(data["text"] for name, data in events if name == "token") == answer["answer"]


def test_follow_up_uses_the_history(client):
    history = [{"role": "user", "content": "Who is Talal Selo?"},
               {"role": "assistant", "content": "SDF spokesman Talal Selo told Reuters ... [1]"}]
    answer = client.post("/api/ask", json={"question": "What did he say about the final battle?", "history": history}).json()
    assert "Selo" in answer["standalone_question"]


def test_filters_that_match_nothing_give_the_not_found_answer(client):
    answer = client.post("/api/ask", json={"question": QUESTION, "filters": {"sources": ["https://example.com/none"]}}).json()
    assert answer["abstained"] is True and answer["citations"] == []
    answer = client.post("/api/ask", json={"question": QUESTION, "filters": {"published_from": "2100-01-01"}}).json()
    assert answer["abstained"] is True


@pytest.mark.parametrize("body", [
    {"question": ""},
    {"question": "   "},
    {"question": "x" * 2001},
    {"question": QUESTION, "k": 0},
    {"question": QUESTION, "k": 51},
    {"question": QUESTION, "k": "many"},
    {"question": QUESTION, "history": "not a list"},
    {"question": QUESTION, "history": [{"role": "robot", "content": "hi"}]},
    {"question": QUESTION, "filters": {"published_from": "last tuesday"}},
    {"question": QUESTION, "unknown": 1},
    {"k": 3},
    {"question": 42},
    [],
])
def test_bad_questions_are_422_with_a_message(client, body):
    for path in ("/api/ask", "/api/ask/stream"):
        response = client.post(path, json=body)
        assert response.status_code == 422, (path, body, response.text)
        assert isinstance(response.json()["error"], str) and response.json()["error"]


def test_malformed_json_is_422(client):
    response = client.post("/api/ask", content=b'{"question": "Who', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "JSON" in response.json()["error"]


# --- documents ---------------------------------------------------------------------------------

def test_documents_list_passage_counts_and_full_text(client):
    documents = client.get("/api/documents").json()
    sample = next(d for d in documents if d["source"].endswith("raqqa_convoy.txt"))
    assert sample["passages"] > 1
    document = client.get(f"/api/documents/{sample['doc_id']}").json()
    assert document["text"] == sample_article().read_text(encoding="utf-8").rstrip()
    missing = client.get("/api/documents/0000000000000000")
    assert missing.status_code == 404 and "no document" in missing.json()["error"]


def test_upload_good_and_bad_files_then_ask_and_delete(client):
    files = [
        ("files", ("festival.txt", FESTIVAL.encode(), "text/plain")),
        ("files", ("briefs.jsonl", b'{"title": "Port reopens", "text": "The port of Zanthe reopened on Monday after repairs."}\n{"title": "broken"\n', "application/x-ndjson")),
        ("files", ("scan.pdf", b"%PDF-1.4 binary", "application/pdf")),
        ("files", ("empty.md", b"", "text/markdown")),
    ]
    response = client.post("/api/documents", files=files)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["added"] == 2 and summary["failed"] == 3
    assert any("scan.pdf" in e for e in summary["errors"]) and any("empty.md" in e for e in summary["errors"])
    assert any("briefs.jsonl" in e and "line 2" in e for e in summary["errors"])
    festival = next(d for d in summary["documents"] if d["title"] == "Harbour festival returns to Quokka Bay")
    listed = {d["doc_id"]: d for d in client.get("/api/documents").json()}
    assert festival["doc_id"] in listed and listed[festival["doc_id"]]["passages"] == festival["passages"]

    answer = client.post("/api/ask", json={"question": "Who organised the Quokka Bay Lantern Festival?"}).json()
    assert festival["doc_id"] in {c["doc_id"] for c in answer["citations"]}

    assert client.post("/api/documents", files=[files[0]]).json()["unchanged"] == 1  # same file again: nothing to do

    response = client.delete(f"/api/documents/{festival['doc_id']}")
    assert response.status_code == 200 and response.json() == {"deleted": festival["doc_id"]}
    assert festival["doc_id"] not in {d["doc_id"] for d in client.get("/api/documents").json()}
    assert client.get(f"/api/documents/{festival['doc_id']}").status_code == 404
    again = client.delete(f"/api/documents/{festival['doc_id']}")
    assert again.status_code == 404 and "error" in again.json()


def test_upload_with_nothing_usable_is_422_listing_each_problem(client):
    response = client.post("/api/documents", files=[("files", ("a.pdf", b"%PDF")), ("files", ("b.txt", b"   \n"))])
    assert response.status_code == 422
    message = response.json()["error"]
    assert "a.pdf" in message and "b.txt" in message


def test_upload_without_files_is_422(client):
    assert client.post("/api/documents").status_code == 422
    assert client.post("/api/documents", json={"files": []}).status_code == 422


def test_oversized_upload_is_413(app):
    with TestClient(variant(app, max_upload_mb=0.01)) as small:  # about 10 KB
        response = small.post("/api/documents", files=[("files", ("big.txt", b"A long article. " * 4000))])
        assert response.status_code == 413
        assert "max_upload_mb" in response.json()["error"]
        response = small.post("/api/documents", files=[("files", ("small.txt", FESTIVAL.encode()))])
        assert response.status_code == 200


# --- health, feedback, docs --------------------------------------------------------------------

def test_health_counts_documents_and_passages(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["mode"] == "extractive"
    assert health["documents"] >= 1 and health["passages"] >= health["documents"]
    assert health["embedding_model"] == "bundled:all-MiniLM-L6-v2"


def test_feedback_is_appended_to_the_data_dir(client, app):
    entry = {"question": QUESTION, "answer": "The council and tribal elders. [1]", "rating": "down", "comment": "too long"}
    response = client.post("/api/feedback", json=entry)
    assert response.status_code == 201
    stored = feedback.read_all(app.state.settings.data_dir)[-1]
    assert {k: stored[k] for k in entry} == entry and stored["via"] == "api"
    assert client.post("/api/feedback", json={**entry, "rating": "meh"}).status_code == 422
    assert client.post("/api/feedback", json={"rating": "up"}).status_code == 422


def test_openapi_docs_list_every_route(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/ask", "/api/ask/stream", "/api/documents", "/api/documents/{doc_id}", "/api/health",
                 "/api/feedback", "/v1/models", "/v1/chat/completions"):
        assert path in paths


def test_chat_page_is_served_at_the_root(client):
    response = client.get("/")
    assert response.status_code == 200 and "<html" in response.text.lower()


# --- access ------------------------------------------------------------------------------------

def test_api_keys_guard_the_apis_and_the_chat_page(app):
    with TestClient(variant(app, api_keys=["k-one", "k-two"])) as guarded:
        for method, path, body in (("get", "/api/health", None), ("post", "/api/ask", {"question": QUESTION}),
                                   ("get", "/api/documents", None), ("get", "/v1/models", None)):
            call = getattr(guarded, method)
            kwargs = {"json": body} if body else {}
            missing = call(path, **kwargs)
            assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
            wrong = call(path, headers={"Authorization": "Bearer k-three"}, **kwargs)
            assert wrong.status_code == 401
            assert call(path, headers={"Authorization": "Basic k-one"}, **kwargs).status_code == 401
            right = call(path, headers={"Authorization": "Bearer k-two"}, **kwargs)
            assert right.status_code == 200, right.text
        assert "API key" in guarded.get("/api/health").json()["error"]
        assert guarded.get("/v1/models").json()["error"]["type"] == "authentication_error"

        assert guarded.get("/config").status_code == 401  # the chat page's configuration needs a log-in
        assert guarded.post("/login", data={"username": "me", "password": "k-three"}).status_code >= 400
        assert guarded.post("/login", data={"username": "me", "password": "k-one"}).status_code == 200
        assert guarded.get("/config").status_code == 200


# --- an unreachable Chroma server --------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_process(tmp_path):
    """A `chroma run` server of this test's own, so the test can stop it."""
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "chroma run did not start"
            time.sleep(0.2)
    yield process, port
    process.kill()
    process.wait(10)


def test_unreachable_chroma_server_is_503(app, tmp_path, chroma_process):
    process, port = chroma_process
    settings = app.state.settings.model_copy(update={"data_dir": tmp_path / "data", "chroma_host": "127.0.0.1", "chroma_port": port})
    index = ArticleIndex.from_settings(settings, embeddings=app.state.engine.retriever.index.embeddings)
    with TestClient(build_app(settings, engine=AnswerEngine.from_settings(settings, index=index))) as remote:
        assert remote.get("/api/health").json()["documents"] == 1  # the sample went into the server
        assert EXPECTED in remote.post("/api/ask", json={"question": QUESTION}).json()["answer"]
        process.kill()
        process.wait(10)
        for response in (remote.get("/api/health"), remote.post("/api/ask", json={"question": QUESTION})):
            assert response.status_code == 503, response.text
            assert "Chroma" in response.json()["error"]
        events = sse(remote.post("/api/ask/stream", json={"question": QUESTION}).text)
        assert events[-1][0] == "error" and "Chroma" in events[-1][1]["error"]
