"""Processes that open one embedded Chroma folder at the same moment (a server starting while a
command-line ingest runs) must all get the store, not an error from Chroma creating its tables twice."""

import multiprocessing

from index.vectors import VectorStore, embedded_folder, make_client


def open_store(data_dir, barrier, results):
    barrier.wait()
    try:
        VectorStore(make_client(data_dir), local_folder=embedded_folder(data_dir)).count()
        results.put("ok")
    except Exception as exc:  # reported to the parent, which asserts on it
        results.put(repr(exc))


def test_simultaneous_first_opens_of_one_folder_all_succeed(tmp_path):
    import chromadb  # noqa: F401  imported before forking so the children start at once

    context = multiprocessing.get_context("fork")
    outcomes = []
    for attempt in range(6):
        data_dir = tmp_path / f"data{attempt}"
        barrier, results = context.Barrier(4), context.Queue()
        processes = [context.Process(target=open_store, args=(data_dir, barrier, results)) for _ in range(4)]
        for process in processes:
            process.start()
        outcomes += [results.get(timeout=120) for _ in processes]
        for process in processes:
            process.join(timeout=60)
    assert outcomes == ["ok"] * len(outcomes), [o for o in outcomes if o != "ok"]
