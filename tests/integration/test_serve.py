"""`python app.py serve` as a user starts it: a real process on loopback with its answer worker,
answering the sample, and leaving no worker behind when stopped."""

import os
import signal
import time
from pathlib import Path

import httpx

from tests.support import ROOT, free_port, start_serve


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_serve_answers_through_a_worker_process_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {**os.environ, "NEWSQA_ANSWER_WORKERS": "1", "NEWSQA_API_KEYS": "[]"}
    server = start_serve(tmp_path / "data", port, env, tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        answer = httpx.post(f"{base}/api/ask", json={"question": "Who brokered the deal?"}, timeout=60).json()
        assert answer["short_answer"] == "the council and tribal elders"
        assert "brokered" in answer["citations"][0]["evidence"]
        workers = children(server.pid)
        assert workers, "the answerer runs in a worker process"
        assert "answering in 1 worker process" in (tmp_path / "server.log").read_text()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        server.log.close()
    assert server.returncode in (0, -signal.SIGTERM)
    deadline = time.monotonic() + 20
    while [pid for pid in workers if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200] for pid in workers if alive(pid)}
    assert not left, f"outlived the server: {left}"
