"""Extractive answering in worker processes: same answers as in-process, survives a dead worker,
and a question that kills or hangs its worker fails alone, at once, without a retry."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from assistant.answering.extractive.answerer import Extractor
from assistant.answering.pool import PooledExtractor
from core.errors import AnswerFailed, AnswerTimeout
from tests.support import ARTICLE, passages_of, retrieve

QUESTIONS = ["Who brokered the deal?", "How many fighters left Raqqa?", "What is the capital of Australia?"]


@pytest.fixture(scope="module")
def pool():
    pooled = PooledExtractor(1)
    yield pooled
    pooled.close()


def test_pooled_answers_equal_in_process_answers(pool):
    local = Extractor()
    passages = passages_of(ARTICLE)
    for question in QUESTIONS:
        given = retrieve(question, passages)
        assert pool.answer(question, given) == local.answer(question, given)
    [pid] = pool.pids()
    assert pid != os.getpid()


def test_a_killed_worker_is_replaced(pool):
    given = retrieve(QUESTIONS[0], passages_of(ARTICLE))
    first = pool.answer(QUESTIONS[0], given)
    [pid] = pool.pids()
    os.kill(pid, signal.SIGKILL)
    assert pool.answer(QUESTIONS[0], given) == first
    assert pool.pids() and pool.pids() != [pid]


def scripted(question, calls):
    """A worker `call` for the tests below (the worker imports this module, so it stays light):
    notes each call in the file `calls`, then dies, hangs, dawdles or answers as the question says."""
    with open(calls, "a") as out:
        out.write(f"{question}\n")
    if question == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if question == "hang":
        time.sleep(600)
    if question == "slow":
        time.sleep(2)
    return f"answered {question}"


def called(calls: Path) -> list[str]:
    return calls.read_text().split()


def test_a_question_that_kills_its_worker_fails_at_once_and_is_not_retried(tmp_path):
    calls = tmp_path / "calls"
    pool = PooledExtractor(1, call=scripted, initializer=None)
    try:
        assert pool.answer("warm", calls) == "answered warm"
        [pid] = pool.pids()
        started = time.perf_counter()
        with pytest.raises(AnswerFailed, match="not retried") as failed:
            pool.answer("die", calls)
        assert time.perf_counter() - started < 5 and failed.value.status_code == 422
        assert called(calls) == ["warm", "die"]  # once: not resubmitted to a fresh worker
        assert pool.answer("next", calls) == "answered next"
        assert called(calls) == ["warm", "die", "next"] and pool.pids() != [pid]
    finally:
        pool.close()


def test_a_crash_fails_only_the_question_that_caused_it(tmp_path):
    calls = tmp_path / "calls"
    pool = PooledExtractor(2, call=scripted, initializer=None)
    try:
        pool.answer("warm", calls)
        innocent = {}
        thread = threading.Thread(target=lambda: innocent.update(answer=pool.answer("slow", calls)))
        thread.start()
        time.sleep(0.5)  # "slow" is being read by one worker
        with pytest.raises(AnswerFailed):
            pool.answer("die", calls)
        thread.join(30)
        assert innocent == {"answer": "answered slow"}
        assert sorted(called(calls)) == ["die", "slow", "warm"]
    finally:
        pool.close()


def test_a_stuck_question_times_out_and_its_worker_is_replaced(tmp_path):
    calls = tmp_path / "calls"
    pool = PooledExtractor(1, timeout_s=3, call=scripted, initializer=None)
    try:
        pool.answer("warm", calls)
        [pid] = pool.pids()
        started = time.perf_counter()
        with pytest.raises(AnswerTimeout, match="longer than 3 s") as stuck:
            pool.answer("hang", calls)
        assert time.perf_counter() - started < 6 and stuck.value.status_code == 503
        assert pool.answer("next", calls) == "answered next"
        assert called(calls) == ["warm", "hang", "next"] and pool.pids() != [pid]
        time.sleep(0.2)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the stuck worker is gone, not left running beside its replacement
    finally:
        pool.close()


def test_a_request_waits_for_a_busy_worker_only_so_long(tmp_path):
    calls = tmp_path / "calls"
    pool = PooledExtractor(1, timeout_s=1, call=scripted, initializer=None)
    try:
        pool.answer("warm", calls)
        threads = [threading.Thread(target=lambda: pytest.raises(AnswerTimeout, pool.answer, "hang", calls)) for _ in range(2)]
        for thread in threads:  # the second waits for the first, then holds the replaced worker past the third's wait
            thread.start()
            time.sleep(0.1)
        with pytest.raises(AnswerTimeout, match="busy"):
            pool.answer("queued", calls)
        for thread in threads:
            thread.join(10)
        assert pool.answer("next", calls) == "answered next"
        assert "queued" not in called(calls)
    finally:
        pool.close()


def test_a_server_gives_spare_cores_to_answering(settings):
    from assistant.web.app import server_settings

    assert server_settings(settings, cores=2).answer_workers == 1
    assert server_settings(settings, cores=1).answer_workers == 0
    assert server_settings(settings, cores=64).answer_workers == 4
    chosen = settings.model_copy(update={"answer_workers": 0})
    assert server_settings(chosen, cores=8).answer_workers == 0
