"""What only the PostgreSQL catalog has: schema migrations, advisory locks, its URL in messages.
(tests/integration/test_store.py runs the behaviour both catalogs share against each.)"""

import threading
import time

import psycopg
import pytest

from core.errors import ConfigError, StoreUnavailable
from index.catalog.postgres import MIGRATIONS, PostgresCatalog, describe_url
from tests.support import free_port


def test_replicas_starting_together_apply_each_migration_once(database_url):
    opened, errors = [], []

    def open_one():
        try:
            opened.append(PostgresCatalog(database_url))
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(opened) == 4
    with psycopg.connect(database_url) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == sorted(int(path.name.split("_")[0]) for path in MIGRATIONS.glob("*.sql"))
    for catalog in opened:
        catalog.close()


def test_a_sql_ascii_database_reads_back_text_not_bytes(postgres_server):
    # what initdb makes in a container with no UTF-8 locale; psycopg returns bytes there unless asked
    catalog = PostgresCatalog(postgres_server.database(encoding="SQL_ASCII"))
    try:
        catalog.set_meta("embedding_model", "bundled:paraphrase-MiniLM-L3-v2 — Zürich")
        assert catalog.get_meta("embedding_model") == "bundled:paraphrase-MiniLM-L3-v2 — Zürich"
        with catalog.writer_lock():
            assert catalog.set_meta_if_absent("embedding_model", "other") == "bundled:paraphrase-MiniLM-L3-v2 — Zürich"
    finally:
        catalog.close()


def test_a_database_from_a_newer_version_is_refused(database_url):
    PostgresCatalog(database_url).close()
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, '999_future.sql')")
    with pytest.raises(ConfigError, match="schema version 999, newer than"):
        PostgresCatalog(database_url)


def test_the_writer_lock_is_one_holder_at_a_time_across_connections(database_url):
    first, second = PostgresCatalog(database_url), PostgresCatalog(database_url)  # as two replicas
    order = []

    def take_second():
        with second.writer_lock():
            order.append("second")

    with first.writer_lock():
        waiter = threading.Thread(target=take_second)
        waiter.start()
        time.sleep(0.5)
        order.append("first done")
    waiter.join(timeout=10)
    assert order == ["first done", "second"]
    first.close()
    second.close()


def test_an_unreachable_server_is_store_unavailable_naming_it_without_the_password():
    url = f"postgresql://newsqa:s3cret@127.0.0.1:{free_port()}/newsqa"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        PostgresCatalog(url, connect_timeout=1)
    assert time.monotonic() - started < 15
    message = str(caught.value)
    assert "postgresql://newsqa@127.0.0.1" in message and "s3cret" not in message
    assert describe_url(url) == f"postgresql://newsqa@127.0.0.1:{url.split(':')[3].split('/')[0]}/newsqa"


def test_a_url_that_is_not_postgresql_is_a_config_error():
    with pytest.raises(ConfigError, match="NEWSQA_DATABASE_URL"):
        describe_url("not a url at all ===")
