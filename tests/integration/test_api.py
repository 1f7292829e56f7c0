"""The REST API through the ASGI app, with the real engine (MiniLM, spaCy, Chroma) on a temp data dir.

It is over 400 lines because every /api route and the HTTP edge's guards are tested against one
module-scoped app; split by route, each module would load the models again (15-25 s).

The app is built once per module (loading the models takes seconds); tests that need other settings
(upload limit, API keys, a Chroma server) build a second app around the same engine.
"""

import json
import socket
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from assistant import feedback
from assistant.engine import AnswerEngine
from assistant.web.app import build_app
from assistant.web.auth import AuthThrottle
from assistant.web.guards import Limits, uvicorn_options
from index.store import ArticleIndex
from tests.support import EXPECTED, QUESTION, ChromaServer, LiveServer, sample_article

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


def variant(app, limits: Limits | None = None, **overrides):
    """A second app on the same engine and data dir, with some settings (or `limits`) changed."""
    return build_app(app.state.settings.model_copy(update=overrides), engine=app.state.engine, limits=limits)


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
    text = "".join(data["text"] for name, data in events if name == "token")
    assert text == f"Short answer: {answer['short_answer']}\n\n{answer['answer']}"  # as a history carries it


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


LONE = r'"\ud800"'  # JSON for half of a surrogate pair: valid JSON, but not text
ASKED = '{"role": "user", "content": "Who brokered the deal?"}'


@pytest.mark.parametrize("path, body", [
    ("/api/ask", f'{{"question": {LONE}}}'),
    ("/api/ask", f'{{"question": "Who brokered the deal?", "filters": {{"sources": [{LONE}]}}}}'),
    ("/api/ask", f'{{"question": "Who?", "history": [{{"role": "user", "content": {LONE}}}]}}'),
    ("/api/ask/stream", f'{{"question": "Who brokered the deal? {LONE[1:-1]}"}}'),
    ("/api/ask/stream", f'{{"question": "Who brokered the deal?", "filters": {{"sources": ["ok", {LONE}]}}}}'),
    ("/api/feedback", f'{{"question": {LONE}, "answer": "a", "rating": "up"}}'),
    ("/api/feedback", f'{{"question": "q", "answer": "a", "rating": "up", "comment": {LONE}}}'),
    ("/v1/chat/completions", f'{{"messages": [{{"role": "user", "content": {LONE}}}]}}'),
    ("/v1/chat/completions", f'{{"messages": [{ASKED}], "filters": {{"sources": [{LONE}]}}}}'),
    ("/v1/chat/completions", f'{{"stream": true, "messages": [{ASKED}], "filters": {{"sources": [{LONE}]}}}}'),
    ("/api/articles", f'{{"articles": [{{"text": "The port reopened.", "title": {LONE}, "source": "wire"}}]}}'),
    ("/api/articles", f'{{"articles": [{{"text": "The port reopened.", "title": "t", "source": "s", "published": {LONE}}}]}}'),
])
def test_a_lone_surrogate_anywhere_in_a_body_is_a_json_4xx(client, path, body):
    response = client.post(path, content=body.encode(), headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert "surrogate" in (error["message"] if path.startswith("/v1") else error) or "unicode" in response.text


class FallsOver:
    """An answerer that fails halfway through a stream with an error nobody planned for."""

    mode = "extractive"

    def stream(self, question, passages, question_vector):
        raise RuntimeError("the answerer fell over")
        yield  # a generator, like every answerer


def test_an_unexpected_failure_midway_through_a_stream_ends_it_with_an_error_event(app, caplog):
    engine = AnswerEngine(app.state.engine.retriever, FallsOver())
    with TestClient(build_app(app.state.settings, engine=engine)) as broken:
        response = broken.post("/api/ask/stream", json={"question": QUESTION})
        assert response.status_code == 200 and response.text.endswith("\n\n")  # the last event is whole
        events = sse(response.text)
        assert [name for name, _ in events] == ["rewrite", "error"]
        assert "server log" in events[-1][1]["error"] and "fell over" not in events[-1][1]["error"]

        response = broken.post("/v1/chat/completions", json={"stream": True, "messages": [{"role": "user", "content": QUESTION}]})
        data = [line[len("data: "):] for line in response.text.splitlines() if line.startswith("data: ")]
        assert data[-1] == "[DONE]"
        assert json.loads(data[-2])["error"]["type"] == "server_error"
    assert "the answerer fell over" in caplog.text  # the traceback is in the server log


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


def error_message(response) -> str:
    """The message of either error shape: `{"error": message}`, or OpenAI's under /v1."""
    assert response.headers["content-type"].startswith("application/json"), (response.status_code, response.text)
    error = response.json()["error"]
    return error["message"] if isinstance(error, dict) else error


def test_every_413_is_json_naming_the_limit_and_the_setting(app):
    with TestClient(variant(app, max_upload_mb=0.01)) as small:  # about 10 KB, plus 64 KB for multipart framing
        big = b"x" * 200_000  # over the limit by Content-Length: refused before it is read
        for path in ("/api/ask", "/api/feedback", "/api/articles", "/v1/chat/completions", "/gradio_api/upload"):
            response = small.post(path, content=big, headers={"content-type": "application/json"})
            assert response.status_code == 413, (path, response.text)
            assert "0.01 MB" in error_message(response) and "max_upload_mb" in error_message(response), path
            assert response.headers["connection"] == "close"
        assert small.post("/v1/chat/completions", content=big).json()["error"]["type"] == "invalid_request_error"
        response = small.post("/api/documents", files=[("files", ("big.txt", big))])
        assert response.status_code == 413 and "max_upload_mb" in error_message(response)

        response = small.post("/api/ask", content=iter([b"x" * 50_000] * 4))  # no Content-Length: counted as it comes
        assert response.status_code == 413 and "max_upload_mb" in error_message(response)
        response = small.post("/gradio_api/upload", files=[("files", ("a.txt", b"x" * 20_000))])  # Gradio's own per-file limit
        assert response.status_code == 413 and "max_upload_mb" in error_message(response)
        assert small.post("/api/ask", json={"question": QUESTION}).status_code == 200


def test_guessing_keys_locks_the_client_out_for_a_while(app):
    guarded = variant(app, api_keys=["k-one"], limits=Limits(failed_auth_max=5, failed_auth_window_s=2.0))
    wrong, right = {"Authorization": "Bearer k-guess"}, {"Authorization": "Bearer k-one"}
    with TestClient(guarded, client=("10.0.0.1", 40000)) as guesser, TestClient(guarded, client=("10.0.0.2", 40000)) as other:
        assert guesser.get("/api/health").status_code == 401  # no key sent: not a guess, not counted
        for path in ("/api/health", "/v1/models", "/api/documents", "/api/health", "/v1/models"):
            assert guesser.get(path, headers=wrong).status_code == 401
        started = time.monotonic()
        for call in (lambda: guesser.get("/api/health", headers=right), lambda: guesser.get("/v1/models", headers=right),
                     lambda: guesser.post("/login", data={"username": "me", "password": "k-one"})):
            response = call()
            assert response.status_code == 429, response.text  # a right key too, while locked out
            assert 1 <= int(response.headers["retry-after"]) <= 2
            assert "too many failed" in error_message(response)
        assert guesser.get("/v1/models", headers=right).json()["error"]["type"] == "rate_limit_error"
        assert other.get("/api/health", headers=right).status_code == 200  # other clients are not affected

        for _ in range(5):  # the chat page's log-in counts too
            assert other.post("/login", data={"username": "me", "password": "k-guess"}).status_code == 400
        assert other.post("/login", data={"username": "me", "password": "k-one"}).status_code == 429

        time.sleep(max(0.0, 2.1 - (time.monotonic() - started)))
        assert guesser.get("/api/health", headers=right).status_code == 200  # the window has passed
        assert other.post("/login", data={"username": "me", "password": "k-one"}).status_code == 200


def test_the_failed_key_throttle_remembers_a_bounded_number_of_clients():
    now = [0.0]
    throttle = AuthThrottle(Limits(failed_auth_max=2, failed_auth_window_s=60, failed_auth_clients=100), clock=lambda: now[0])
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle) == 100 and throttle.retry_after("10.0.3.231") == 0
    throttle.failed("10.0.3.231")
    assert throttle.retry_after("10.0.3.231") == 60
    now[0] = 61.0
    throttle.failed("192.0.2.1")  # recording drops everything older than the window
    assert len(throttle) == 1 and throttle.retry_after("10.0.3.231") == 0


# --- slow senders (a real socket against a real uvicorn) -----------------------------------------

SLOW = Limits(header_timeout_s=1.0, body_timeout_s=1.0)


@pytest.fixture(scope="module")
def slow_limits_server(app):
    with LiveServer(variant(app, limits=SLOW), **uvicorn_options(SLOW)) as server:
        yield server


def held_for(port: int, *pieces: bytes, pause: float = 0.0, cap: float = 10.0) -> tuple[float, bytes]:
    """Send `pieces` with `pause` between them, then read until the server closes: (seconds from the
    first byte until the close, everything received). An AssertionError if still open after `cap`."""
    with socket.create_connection(("127.0.0.1", port), timeout=cap) as sock:
        started = time.monotonic()
        received = b""
        try:
            for piece in pieces:
                sock.sendall(piece)
                time.sleep(pause)
        except (ConnectionResetError, BrokenPipeError):
            pass  # closed while we were still sending; read what it answered
        try:
            while chunk := sock.recv(4096):
                received += chunk
        except socket.timeout:
            raise AssertionError(f"the server still held the connection after {cap} s: {received[:200]!r}") from None
        except ConnectionResetError:
            pass  # closed with our unread bytes in its buffer: the kernel resets instead of closing
        return time.monotonic() - started, received


HEAD = b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"


def test_a_stalled_body_gets_408_json_and_the_connection_closed(slow_limits_server):
    seconds, received = held_for(slow_limits_server.port, HEAD + b'{"question": "Who')
    assert 0.9 < seconds < 3.0, seconds
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408") and b"connection: close" in head.lower()
    assert "within 1 seconds" in json.loads(body)["error"]


def test_a_trickled_body_is_cut_off_at_the_deadline_too(slow_limits_server):
    seconds, received = held_for(slow_limits_server.port, HEAD, *[b" "] * 30, pause=0.1)
    assert 0.9 < seconds < 2.5, seconds  # 30 bytes at 10 a second would take 3 s
    assert received in (b"",) or received.startswith(b"HTTP/1.1 408"), received[:100]  # b"": a reset lost the 408


@pytest.mark.parametrize("pieces, pause", [
    ((b"",), 0.0),  # connects and says nothing
    ((b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n",), 0.0),  # headers never finished
    (tuple(bytes([c]) for c in b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: yes\r\n"), 0.1),  # one byte at a time
])
def test_slow_or_missing_headers_are_closed_at_the_deadline(slow_limits_server, pieces, pause):
    seconds, received = held_for(slow_limits_server.port, *pieces, pause=pause)
    assert seconds < 2.5 and not received.startswith(b"HTTP/1.1 200"), (seconds, received[:100])


def test_a_prompt_client_is_unaffected_by_the_deadlines(slow_limits_server):
    import httpx

    body = json.dumps({"question": QUESTION}).encode()

    def in_two_parts():
        yield body[:10]
        time.sleep(0.5)  # within the body deadline
        yield body[10:]

    with httpx.Client(base_url=slow_limits_server.url, timeout=30) as client:
        assert EXPECTED in client.post("/api/ask", content=in_two_parts(), headers={"content-type": "application/json"}).json()["answer"]
        time.sleep(1.5)  # longer than the header deadline, shorter than keep-alive: the next request still works
        with client.stream("POST", "/api/ask/stream", json={"question": QUESTION}) as response:
            assert response.status_code == 200 and "event: answer" in response.read().decode()


# --- health, feedback, docs --------------------------------------------------------------------

def test_health_counts_documents_and_passages(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["mode"] == "extractive"
    assert health["documents"] >= 1 and health["passages"] >= health["documents"]
    assert health["embedding_model"] == "bundled:paraphrase-MiniLM-L3-v2"


def test_feedback_is_appended_to_the_data_dir(client, app):
    entry = {"question": QUESTION, "answer": "The council and tribal elders. [1]", "rating": "down", "comment": "too long"}
    response = client.post("/api/feedback", json=entry)
    assert response.status_code == 201
    stored = feedback.read_all(feedback.store_for(app.state.settings.data_dir, app.state.engine.index))[-1]
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

@pytest.fixture
def chroma_process(tmp_path):
    """A `chroma run` server of this test's own, so the test can stop it and start it again."""
    with ChromaServer(tmp_path / "chroma") as chroma:
        yield chroma


def remote_app(app, tmp_path, port: int):
    """An app on its own data dir whose vectors live in the `chroma run` server on `port`."""
    settings = app.state.settings.model_copy(update={"data_dir": tmp_path / "data", "chroma_host": "127.0.0.1", "chroma_port": port})
    index = ArticleIndex.from_settings(settings, embeddings=app.state.engine.index.embeddings)
    return build_app(settings, engine=AnswerEngine.from_settings(settings, index=index))


def test_unreachable_chroma_server_is_503(app, tmp_path, chroma_process):
    with TestClient(remote_app(app, tmp_path, chroma_process.port)) as remote:
        assert remote.get("/api/health").json()["documents"] == 1  # the sample went into the server
        assert EXPECTED in remote.post("/api/ask", json={"question": QUESTION}).json()["answer"]
        chroma_process.stop()
        for response in (remote.get("/api/health"), remote.post("/api/ask", json={"question": QUESTION})):
            assert response.status_code == 503, response.text
            assert "Chroma" in response.json()["error"]
        events = sse(remote.post("/api/ask/stream", json={"question": QUESTION}).text)
        assert events[-1][0] == "error" and "Chroma" in events[-1][1]["error"]


def test_writes_while_chroma_is_down_are_503_and_work_again_once_it_is_back(app, tmp_path, chroma_process):
    festival = [("files", ("festival.txt", FESTIVAL.encode(), "text/plain"))]
    port = ("files", ("port.txt", b"Port reopens\nThe port of Zanthe reopened on Monday after repairs.", "text/plain"))
    with TestClient(remote_app(app, tmp_path, chroma_process.port)) as remote:
        added = remote.post("/api/documents", files=festival).json()["documents"][0]
        chroma_process.stop()
        for response in (remote.post("/api/documents", files=[port]),
                         remote.delete(f"/api/documents/{added['doc_id']}"),
                         remote.post("/api/ask", json={"question": QUESTION}),
                         remote.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]})):
            assert response.status_code == 503, (response.request.url, response.text)
            error = response.json()["error"]
            message = error["message"] if isinstance(error, dict) else error
            assert f"cannot reach the Chroma server at 127.0.0.1:{chroma_process.port}" in message, message
        assert added["doc_id"] in {d["doc_id"] for d in remote.get("/api/documents").json()}  # a refused delete changed nothing

        chroma_process.start()  # same port, same folder: the app recovers without a restart
        response = remote.post("/api/documents", files=[port])
        assert response.status_code == 200 and response.json()["added"] == 1, response.text
        answer = remote.post("/api/ask", json={"question": "When did the port of Zanthe reopen?"}).json()
        assert "Monday" in answer["answer"]
        assert remote.delete(f"/api/documents/{added['doc_id']}").status_code == 200
        assert remote.get("/api/health").json()["documents"] == 2  # the sample and the port


def test_vector_ids_pages_and_batched_deletes_survive_a_dropped_collection(chroma_process):
    from index.documents import Passage
    from index.vectors import open_store

    store = open_store("paging", host="127.0.0.1", port=chroma_process.port)
    store.BATCH = 4  # several delete batches from a few vectors
    passages = [Passage("doc", "v1", i, 0, 1, f"passage {i}") for i in range(30)]
    store.add_rows(passages, np.random.default_rng(0).random((30, 8), dtype=np.float32), [{"title": "t"}] * 30)
    every = [p.passage_id for p in passages]
    assert sorted(store.ids()) == sorted(every) and len(store.ids()) == 30
    pages = [store.get_ids(limit=7, offset=offset) for offset in range(0, 30, 7)]
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2] and sorted(sum(pages, [])) == sorted(every)
    store.delete_ids(every[:13] + ["doc:v1:999"])  # four batches; an unknown id is ignored
    assert sorted(store.ids()) == sorted(every[13:]) and store.count() == 17

    other = open_store("paging", host="127.0.0.1", port=chroma_process.port)  # another process re-creates it
    other.reset()
    other.add_rows(passages[:2], np.ones((2, 8), dtype=np.float32), [{}, {}])
    assert store.count() == 2  # the stale handle is looked up again, not a 500


# --- other sites in the reader's browser -------------------------------------------------------------

def test_a_loopback_server_refuses_foreign_host_names_and_cross_site_changes(app):
    """A page elsewhere could post articles into a key-less loopback server (cross-site) or read it
    under its own host name (DNS rebinding); the server's own page and plain API clients still work."""
    loopback = variant(app, allowed_hosts=[])  # the default: loopback names only, as `host` is 127.0.0.1
    with TestClient(loopback, base_url="http://127.0.0.1:7860") as client:
        good = ("note.txt", b"Ferry terminal\nThe ferry terminal cost 84 million dollars.")
        assert client.get("/api/health").status_code == 200
        rebound = client.get("/api/health", headers={"Host": "evil.example:7860"})
        assert rebound.status_code == 403 and "allowed_hosts" in rebound.json()["error"]
        planted = client.post("/api/documents", files=[("files", good)], headers={"Origin": "https://evil.example"})
        assert planted.status_code == 403 and "cross-site" in planted.json()["error"]
        assert not any(d["title"] == "Ferry terminal" for d in client.get("/api/documents").json())
        v1 = client.post("/v1/chat/completions", headers={"Origin": "null"},
                         json={"model": "newsqa-extractive", "messages": [{"role": "user", "content": QUESTION}]})
        assert v1.status_code == 403 and v1.json()["error"]["type"] == "permission_error"
        same_site = client.post("/api/ask", json={"question": QUESTION}, headers={"Origin": "http://127.0.0.1:7860"})
        assert same_site.status_code == 200
        assert client.get("/api/health", headers={"Origin": "https://evil.example"}).status_code == 200  # reads stay open
    public = variant(app, allowed_hosts=["news.example.org"])
    with TestClient(public, base_url="https://news.example.org") as client:
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/health", headers={"Host": "127.0.0.1:7860"}).status_code == 403
