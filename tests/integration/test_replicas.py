"""The shared mode: app replicas on one PostgreSQL catalog (Debian's server, started by the tests on a
loopback port) and one `chroma run` server.

- The REST API tests of test_api.py run again here (imported, so pytest collects them in this module
  with its fixtures), through a client that sends each request to the other replica in turn: an
  upload through one is listed, answered and deleted through the other, and feedback given through
  one is stored where every replica reads it.
- Real `app.py serve` processes: an upload through one is answerable through the other at once, and
  both answer 503 while PostgreSQL is down and recover without a restart.
- Command-line ingests and a replica killed with SIGKILL mid-ingest lose nothing committed.
"""

import contextlib
import itertools
import os
import signal
import threading
import time

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from assistant.engine import AnswerEngine
from assistant.web.app import build_app
from core.settings import Settings
from index.store import ArticleIndex
from tests.integration.test_api import (  # noqa: F401  (collected again here, against two replicas)
    test_ask_returns_the_contract_with_citations_that_point_into_the_document,
    test_ask_stream_sends_rewrite_tokens_and_the_answer,
    test_bad_questions_are_422_with_a_message,
    test_chat_page_is_served_at_the_root,
    test_documents_list_passage_counts_and_full_text,
    test_feedback_is_appended_to_the_data_dir,
    test_filters_that_match_nothing_give_the_not_found_answer,
    test_follow_up_uses_the_history,
    test_health_counts_documents_and_passages,
    test_malformed_json_is_422,
    test_openapi_docs_list_every_route,
    test_upload_good_and_bad_files_then_ask_and_delete,
    test_upload_with_nothing_usable_is_422_listing_each_problem,
    test_upload_without_files_is_422,
)
from tests.integration.test_crash import kill_when, run_ingest, write_articles
from tests.support import QUESTION, ChromaServer, free_port, make_settings, start_serve


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    with ChromaServer(tmp_path_factory.mktemp("replica-chroma")) as server:
        yield server


@pytest.fixture(scope="module")
def shared(postgres_server, chroma):
    """The settings every replica shares: one database, one Chroma server."""
    return {"database_url": postgres_server.database(), "chroma_host": chroma.host, "chroma_port": chroma.port}


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, shared):
    """Two apps, each with its own index handles, engine and data dir (as on two machines), built
    together: both find the index empty and index the sample, and the second finds it unchanged."""
    first = build_app(make_settings(tmp_path_factory.mktemp("replica-1"), **shared))
    settings = make_settings(tmp_path_factory.mktemp("replica-2"), **shared)
    index = ArticleIndex.from_settings(settings, embeddings=first.state.engine.index.embeddings)  # one model in memory
    second = build_app(settings, engine=AnswerEngine.from_settings(settings, index=index))
    return first, second


@pytest.fixture(scope="module")
def app(replicas):
    """test_api.py's tests that read the app's state read the first replica's: feedback given
    through either replica is found there, in the shared catalog."""
    return replicas[0]


class Alternating:
    """A TestClient stand-in that sends each request through the next replica in turn."""

    def __init__(self, *clients):
        self._turn = itertools.cycle(clients)

    def __getattr__(self, name):
        return getattr(next(self._turn), name)


@pytest.fixture(scope="module")
def client(replicas):
    with TestClient(replicas[0]) as first, TestClient(replicas[1]) as second:
        yield Alternating(first, second)


def test_both_replicas_name_the_shared_backends_and_see_one_index(replicas, shared):
    counts = []
    for replica in replicas:
        with TestClient(replica) as client:
            health = client.get("/api/health").json()
        assert health["backends"]["catalog"]["backend"] == "postgresql"
        assert health["backends"]["catalog"]["location"].endswith(shared["database_url"].rsplit("/", 1)[1])
        assert health["backends"]["vectors"] == {"backend": "chroma-server",
                                                 "location": f"the Chroma server at 127.0.0.1:{shared['chroma_port']}"}
        assert health["index"]["state"] == "consistent"
        counts.append((health["documents"], health["passages"]))
    assert counts[0] == counts[1] and counts[0][0] >= 1


# --- real processes --------------------------------------------------------------------------

def serve_env(shared: dict) -> dict:
    return {**os.environ, "NEWSQA_DATABASE_URL": shared["database_url"], "NEWSQA_CHROMA_HOST": shared["chroma_host"],
            "NEWSQA_CHROMA_PORT": str(shared["chroma_port"]), "NEWSQA_ANSWER_WORKERS": "0", "NEWSQA_API_KEYS": "[]"}


@contextlib.contextmanager
def serving_pair(folder, postgres_server, chroma):
    """Two `app.py serve` processes on one fresh database and one Chroma collection of their own."""
    shared = {"database_url": postgres_server.database(), "chroma_host": chroma.host, "chroma_port": chroma.port}
    env = {**serve_env(shared), "NEWSQA_COLLECTION": f"replicas_{folder.name}"}
    servers, bases = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            servers.append(start_serve(folder / name, port, env, folder / f"{name}.log"))
            bases.append(f"http://127.0.0.1:{port}")
        yield bases, servers, env
    finally:
        for server in servers:
            if server.poll() is None:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(30)
                except Exception:
                    server.kill()
            server.log.close()


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory, postgres_server, chroma):
    """One pair for the tests that leave both replicas running (each starts in about 15 s)."""
    with serving_pair(tmp_path_factory.mktemp("pair"), postgres_server, chroma) as pair:
        yield pair


@pytest.fixture
def own_two_servers(tmp_path, postgres_server, chroma):
    """A pair of its own, for a test that kills a replica."""
    with serving_pair(tmp_path, postgres_server, chroma) as pair:
        yield pair


def test_an_upload_through_one_server_is_answered_by_the_other_at_once(two_servers):
    (a, b), _, _ = two_servers
    article = b"Ferry terminal opens\nThe new Kestrel Point ferry terminal cost 84 million dollars, the harbour board said."
    added = httpx.post(f"{a}/api/documents", files=[("files", ("ferry.txt", article, "text/plain"))], timeout=120).json()
    assert added["added"] == 1
    answer = httpx.post(f"{b}/api/ask", json={"question": "How much did the Kestrel Point ferry terminal cost?"},
                        timeout=120).json()
    assert "84 million dollars" in answer["answer"]
    assert answer["citations"][0]["doc_id"] == added["documents"][0]["doc_id"]
    assert httpx.delete(f"{b}/api/documents/{added['documents'][0]['doc_id']}", timeout=60).status_code == 200
    gone = httpx.post(f"{a}/api/ask", json={"question": "How much did the Kestrel Point ferry terminal cost?"},
                      timeout=120).json()
    assert "84 million" not in gone["answer"]


def test_both_servers_answer_503_while_postgresql_is_down_and_recover_without_a_restart(two_servers, postgres_server):
    bases, servers, _ = two_servers
    for base in bases:
        assert httpx.get(f"{base}/api/health", timeout=30).status_code == 200
    postgres_server.stop(graceful=True)  # its sessions end with it, as when its machine goes away
    try:
        for base in bases:
            for response in (httpx.get(f"{base}/api/health", timeout=60),
                             httpx.post(f"{base}/api/ask", json={"question": QUESTION}, timeout=60)):
                assert response.status_code == 503, response.text
                assert "PostgreSQL catalog" in response.json()["error"]
    finally:
        postgres_server.start()  # same port and folder: as an operator restarting it
    for base, server in zip(bases, servers):
        assert server.poll() is None
        deadline = time.monotonic() + 30  # a load balancer's probe would ask again too
        while httpx.get(f"{base}/api/health", timeout=60).status_code != 200:
            assert time.monotonic() < deadline, "the replica did not recover within 30 s of PostgreSQL's restart"
            time.sleep(1)
        answer = httpx.post(f"{base}/api/ask", json={"question": QUESTION}, timeout=60).json()
        assert "council and tribal elders" in answer["answer"]


def consistent(settings: Settings) -> ArticleIndex:
    index = ArticleIndex.from_settings(settings)
    found = index.check()
    assert found.ok and not found.pending, found.line()
    return index


def test_a_replica_killed_mid_upload_and_command_line_ingests_at_once_lose_nothing(own_two_servers, tmp_path):
    (a, b), servers, env = own_two_servers
    env = {**env, "NEWSQA_INGEST_BATCH_SIZE": "4"}
    write_articles(tmp_path / "cli", 60)
    write_articles(tmp_path / "upload", 40)
    files = [("files", (f"upload_{p.name}", p.read_bytes(), "text/plain")) for p in sorted((tmp_path / "upload").iterdir())]
    # a command-line ingest on another "machine" (its own data dir) while replica a takes an upload
    cli = run_ingest(tmp_path / "cli", tmp_path / "cli-data", env)

    def uploaded() -> int:
        with psycopg.connect(env["NEWSQA_DATABASE_URL"]) as db:
            return db.execute("SELECT count(*) FROM documents WHERE source LIKE 'upload_%'").fetchone()[0]

    # replica a dies once the upload has committed its first batch, as a machine failing would
    killer = threading.Thread(target=kill_when, args=(servers[0], lambda: uploaded() >= 1))
    killer.start()
    with pytest.raises(httpx.HTTPError):  # the upload is cut off: the replica died before it answered
        httpx.post(f"{a}/api/documents", files=files, timeout=300)
    killer.join()
    servers[0].wait(30)
    out, err = cli.communicate(timeout=600)
    assert cli.returncode == 0, err
    settings = Settings(_env_file=None, data_dir=tmp_path / "check", database_url=env["NEWSQA_DATABASE_URL"],
                        chroma_host=env["NEWSQA_CHROMA_HOST"], chroma_port=int(env["NEWSQA_CHROMA_PORT"]),
                        collection=env["NEWSQA_COLLECTION"])
    index = ArticleIndex.from_settings(settings)
    committed = {d["doc_id"] for d in index.documents()}
    assert len(committed) >= 61  # the sample and all 60 of the command line's, whatever the upload got to
    index.reconcile()  # what the next write through any replica does first
    index.close()
    consistent(settings).close()
    # the upload, sent again through the surviving replica, completes it
    again = httpx.post(f"{b}/api/documents", files=files, timeout=600).json()
    assert again["added"] + again["unchanged"] == 40 and again["failed"] == 0
    index = consistent(settings)
    assert committed <= {d["doc_id"] for d in index.documents()}
    assert len(index.documents()) == 101
    index.close()
