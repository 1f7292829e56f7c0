"""Shared fixtures: fake and real embeddings, indexes in per-test temp dirs, the real app and a real
`chroma run` server; and, at the end of every run, the table of reliability probes. Helpers that are
not fixtures are in tests/support.py."""

import os
import shutil

import pytest

from tests.support import ChromaServer, LiveServer, PostgresServer, make_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests answer extractively unless they ask for the reader (answer_mode="reader"): the default, auto,
# would load the reader model into every server and engine a test starts, wherever it is installed.
os.environ["NEWSQA_ANSWER_MODE"] = "extractive"


@pytest.fixture
def fake_embeddings():
    from index.embeddings import HashEmbeddings

    return HashEmbeddings()


@pytest.fixture(scope="session")
def minilm():
    """The real default embedding model (bundled paraphrase-MiniLM-L3-v2), loaded once per test run."""
    from index.embeddings import SentenceTransformerEmbeddings

    embeddings = SentenceTransformerEmbeddings()
    embeddings.encode(["warm up"])
    return embeddings


@pytest.fixture
def settings(tmp_path):
    from core.settings import Settings

    return Settings(data_dir=tmp_path / "data", _env_file=None)


@pytest.fixture
def fake_index(settings, fake_embeddings):
    from index.store import ArticleIndex

    return ArticleIndex.from_settings(settings, embeddings=fake_embeddings)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The server app with the real engine on the bundled sample, one per test module."""
    from assistant.web.app import build_app

    return build_app(make_settings(tmp_path_factory.mktemp("app-data")))


@pytest.fixture(scope="module")
def server(app):
    """`app` served by uvicorn on a loopback port."""
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on a loopback port, for the whole session: (host, port)."""
    path = tmp_path_factory.mktemp("chroma-server")
    with ChromaServer(path) as chroma:
        yield (chroma.host, chroma.port)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server (Debian's package) on a loopback port, for the whole session."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def database_url(postgres_server):
    """A new empty PostgreSQL database for one test."""
    return postgres_server.database()


# --- the reliability table (tests/integration/test_reliability.py) ------------------------------
# Each probe is recorded as a user property of its test ("reliability_probe", {category, tried,
# expected, happened, held}); pytest carries user properties on every report (and into JUnit XML),
# so the whole session's probes are collected here, at the end of the run, whatever failed.

def pytest_terminal_summary(terminalreporter, exitstatus, config):
    latest: dict[str, list[dict]] = {}  # each phase's report repeats the properties so far: keep the longest
    broken = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            probes = [value for name, value in getattr(report, "user_properties", ()) if name == "reliability_probe"]
            nodeid = getattr(report, "nodeid", "")
            if probes and len(probes) >= len(latest.get(nodeid, [])):
                latest[nodeid] = probes
            elif "test_reliability.py" in nodeid and getattr(report, "failed", False) and getattr(report, "when", "collect") != "call":
                broken.append(f"{nodeid} ({getattr(report, 'when', 'collect')}): {str(report.longrepr).strip().splitlines()[-1][:200]}")
    if not latest and not broken:
        return
    rows: dict[str, list[dict]] = {}
    for probes in latest.values():
        for probe in probes:
            rows.setdefault(probe["category"], []).append(probe)
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", "reliability probes")
    total = sum(len(probes) for probes in rows.values())
    failed = [probe for probes in rows.values() for probe in probes if not probe["held"]]
    write(f"{'category':<14}{'tried':>7}{'held':>7}{'failed':>8}")
    order = ["bad files", "bad bodies", "faults", "concurrency"]
    for category, probes in sorted(rows.items(), key=lambda row: (order + [row[0]]).index(row[0])):
        held = sum(probe["held"] for probe in probes)
        write(f"{category:<14}{len(probes):>7}{held:>7}{len(probes) - held:>8}")
    write(f"{'all':<14}{total:>7}{total - len(failed):>7}{len(failed):>8}")
    if config.option.verbose > 0:  # -v: every probe, held or not
        for probe in (probe for probes in rows.values() for probe in probes if probe["held"]):
            write(f"held   [{probe['category']}] {probe['tried']} -> {probe['happened'][:160]}")
    for probe in failed:
        write(f"FAILED [{probe['category']}] {probe['tried']}")
        write(f"    expected: {probe['expected']}")
        write(f"    happened: {probe['happened']}")
    for line in broken:
        write(f"NOT RUN (setup or teardown failed): {line}")
