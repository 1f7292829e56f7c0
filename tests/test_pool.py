"""Extractive answering in worker processes: same answers as in-process, survives a dead worker."""

import os
import signal

import pytest

from assistant.extractive import ExtractiveAnswerer
from assistant.pool import PooledExtractor
from assistant.server import server_settings
from tests.test_extractive import ARTICLE, passages_of, retrieve

QUESTIONS = ["Who brokered the deal?", "How many fighters left Raqqa?", "What is the capital of Australia?"]


@pytest.fixture(scope="module")
def pool():
    pooled = PooledExtractor(1)
    yield pooled
    pooled.close()


def test_pooled_answers_equal_in_process_answers(pool):
    local = ExtractiveAnswerer()
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


def test_a_server_gives_spare_cores_to_answering(settings):
    assert server_settings(settings, cores=2).answer_workers == 1
    assert server_settings(settings, cores=1).answer_workers == 0
    assert server_settings(settings, cores=64).answer_workers == 4
    chosen = settings.model_copy(update={"answer_workers": 0})
    assert server_settings(chosen, cores=8).answer_workers == 0
