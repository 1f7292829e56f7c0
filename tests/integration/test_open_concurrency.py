"""Processes that open one new data directory at the same moment (a server starting while a
command-line ingest runs) must all get the index: not an error from Chroma creating its tables twice,
nor "database is locked" from two catalogs switching one SQLite file to WAL."""

import multiprocessing

ROUNDS, PROCESSES = 12, 4


def open_stores(data_dirs, barrier, results):
    """In a fresh process: for each folder, wait for the others, then open it together."""
    from index.catalog import SQLiteCatalog
    from index.vectors import open_store

    for data_dir in data_dirs:
        barrier.wait(timeout=120)
        try:
            SQLiteCatalog(data_dir / "catalog.sqlite3").committed_version("none")
            open_store(data_dir=data_dir).count()
            results.put("ok")
        except Exception as exc:  # reported to the parent, which asserts on it
            results.put(repr(exc))


def test_simultaneous_first_opens_of_one_folder_all_succeed(tmp_path):
    context = multiprocessing.get_context("spawn")  # not fork: the test process has threads of its own
    data_dirs = [tmp_path / f"data{attempt}" for attempt in range(ROUNDS)]
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [context.Process(target=open_stores, args=(data_dirs, barrier, results)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=180) for _ in range(ROUNDS * PROCESSES)]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert outcomes == ["ok"] * len(outcomes), [o for o in outcomes if o != "ok"]
