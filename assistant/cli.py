"""The command line: ingest, documents, delete, reindex, check, repair, copy-catalog, ask, serve. Errors become one line on stderr and a
non-zero exit code here, at the edge."""

import argparse
import json
import sys
import time

from core.errors import AssistantError, DataDirBusy
from core.settings import Settings


def _settings(args) -> Settings:
    overrides = {"data_dir": args.data_dir}
    for name in ("host", "port", "answer_mode"):
        overrides[name] = getattr(args, name, None)
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


# Commands a server can do for us when it holds the data directory; the others refuse then.
THROUGH_SERVER = {"ingest", "documents", "delete", "ask", "check"}
WAIT_POLL_S = 0.5


def _index(settings, command: str = ""):
    """The local index, or a `RemoteIndex` when a running server holds the embedded data directory.

    Another command holding the folder is waited for (a second ingest runs after the first); a server
    starting up is waited for until it names its URL. See `index/owner.py` for why only one process
    may open an embedded index."""
    from index import owner
    from index.store import ArticleIndex

    announced = False
    while True:
        holder = None if settings.chroma_host else owner.current_holder(settings.data_dir)
        if holder is None:
            try:
                return ArticleIndex.from_settings(settings)
            except DataDirBusy as exc:  # taken between our look and our claim
                holder = exc.holder
        serving = holder.command.endswith("serve")
        if serving and command not in THROUGH_SERVER:
            raise DataDirBusy(settings.data_dir, holder)
        if serving and holder.url:
            from assistant.remote import RemoteIndex

            print(f"{settings.data_dir} is held by the server at {holder.url}: working through it", file=sys.stderr)
            return RemoteIndex(holder.url, api_key=settings.api_keys[0] if settings.api_keys else None,
                               max_batch_bytes=int(settings.max_upload_mb * 2**20) // 2)
        if not announced:
            print(f"waiting: {settings.data_dir} is in use by {holder.describe()} (Ctrl-C to stop)", file=sys.stderr)
            announced = True
        time.sleep(WAIT_POLL_S)


def cmd_ingest(args) -> int:
    from index.ingest import ingest
    from index.loaders import load_paths, load_stream

    settings = _settings(args)
    index = _index(settings, "ingest")
    paths = [p for p in args.paths if p != "-"]
    items = load_paths(paths)
    if "-" in args.paths or not args.paths:
        items = _chain(items, load_stream(sys.stdin, fmt=args.format))
    report = lambda message: print(f"error: {message}", file=sys.stderr)  # noqa: E731
    if _is_remote(index):
        summary = index.ingest(items, report=report)
    else:
        summary = ingest(index, items, batch_size=settings.ingest_batch_size, progress=None if not args.quiet else False,
                         report=report)
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        print(summary.line())
    return 0 if summary.ok else 1


def _is_remote(index) -> bool:
    from assistant.remote import RemoteIndex

    return isinstance(index, RemoteIndex)


def _chain(*iterables):
    for iterable in iterables:
        yield from iterable


def cmd_documents(args) -> int:
    docs = _index(_settings(args), "documents").documents()
    if args.json:
        print(json.dumps([{k: d[k] for k in ("doc_id", "title", "source", "published", "passages")} for d in docs], indent=2))
        return 0
    if not docs:
        print("no documents; add some with: python app.py ingest PATH")
    for d in docs:
        print(f"{d['doc_id']}  {d['passages']:>4} passages  {d['published'] or '----------'}  {d['title'][:70]}")
    return 0


def cmd_delete(args) -> int:
    index = _index(_settings(args), "delete")
    missing = [doc_id for doc_id in args.doc_ids if not index.delete(doc_id)]
    for doc_id in missing:
        print(f"error: no document with id {doc_id!r} (see: python app.py documents)", file=sys.stderr)
    deleted = len(args.doc_ids) - len(missing)
    print(f"deleted {deleted} document(s)")
    return 1 if missing else 0


def _print_answer(answer) -> None:
    if answer.standalone_question != answer.question:
        print(f"(searched for: {answer.standalone_question})")
    print(answer.answer)
    if answer.short_answer:
        print(f"short answer: {answer.short_answer}")
    for c in answer.citations:
        print(f"  [{c.n}] {c.title} ({c.source}{', ' + c.published if c.published else ''})")
        print(f"      \"{c.evidence}\"")
    print(f"  ({answer.mode}, {answer.timings.get('total_ms', 0):.0f} ms)")


def cmd_ask(args) -> int:
    from assistant.engine import AnswerEngine
    from index.ingest import ensure_sample

    from index.store import Filters

    settings = _settings(args)
    filters = None
    if args.source or args.published_from or args.published_to:
        filters = Filters(sources=args.source, published_from=args.published_from, published_to=args.published_to)
    index = _index(settings, "ask")
    if _is_remote(index):
        ask = index.answer
    else:
        engine = AnswerEngine.from_settings(settings, index=index)
        if ensure_sample(engine.index, settings.sample_path):
            print(f"the index was empty: indexed the bundled sample from {settings.sample_path}", file=sys.stderr)
        ask = engine.answer
    from assistant.condense import with_short_answer

    questions = [args.question] if args.question else (line.strip() for line in sys.stdin)
    history: list = []
    status = 0
    for question in questions:
        if not question:
            continue
        try:
            answer = ask(question, history=history if args.follow_up else None, k=args.k, filters=filters)
        except AssistantError as exc:
            print(json.dumps({"question": question, "error": str(exc)}) if args.json else f"error: {exc}")
            status = 1
            continue
        if args.follow_up:
            history.append([question, with_short_answer(answer.answer, answer.short_answer)])
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            _print_answer(answer)
            print(flush=True)
    return status


def cmd_check(args) -> int:
    index = _index(_settings(args), "check")
    if _is_remote(index):
        found = index.check()
    else:
        found = index.check().as_dict()
    if args.json:
        print(json.dumps(found, indent=2))
    elif found["ok"]:
        print(f"consistent: {found['passages']} passages, {found['vectors']} vectors")
    else:
        print(f"inconsistent: {found['missing']} of {found['passages']} passages have no vector "
              f"(e.g. {', '.join(found['missing_sample'][:3]) or '-'}), {found['orphaned']} vectors belong to no passage "
              f"(e.g. {', '.join(found['orphaned_sample'][:3]) or '-'}); run: python app.py repair")
    return 0 if found["ok"] else 1


def cmd_repair(args) -> int:
    settings = _settings(args)
    index = _index(settings, "repair")
    started = time.perf_counter()
    result = index.repair()
    print(f"re-embedded {result['reembedded']} passages, deleted {result['deleted']} stray vectors in "
          f"{time.perf_counter() - started:.1f}s; now {'consistent' if result['after']['ok'] else 'still inconsistent'}")
    return 0 if result["after"]["ok"] else 1


def cmd_reindex(args) -> int:
    settings = _settings(args)
    index = _index(settings, "reindex")
    total = index.catalog.count()[1]
    bar = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="passage", desc="re-embedding", file=sys.stderr)
    started = time.perf_counter()
    try:
        done = index.reembed(progress=(lambda n: bar.update(n - bar.n)) if bar else None)
    finally:
        if bar:
            bar.close()
    print(f"re-embedded {done} passages with {settings.embedding_model} in {time.perf_counter() - started:.1f}s")
    return 0


def cmd_copy_catalog(args) -> int:
    """The data directory's SQLite catalog into PostgreSQL; the vectors stay where they are."""
    from pathlib import Path

    from index.catalog import SQLITE_NAME, SQLiteCatalog
    from index.catalog.copy import copy_catalog
    from index.catalog.postgres import PostgresCatalog

    settings = _settings(args)
    path = Path(settings.data_dir) / SQLITE_NAME
    if not path.exists():
        raise AssistantError(f"no catalog at {path}: name the index folder with --data-dir")
    source, target = SQLiteCatalog(path), PostgresCatalog(args.to)
    total = source.count()[0]
    bar = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="document", desc="copying", file=sys.stderr)
    started = time.perf_counter()
    try:
        result = copy_catalog(source, target, progress=(lambda n: bar.update(n - bar.n)) if bar else None)
    finally:
        if bar:
            bar.close()
        source.close()
        target.close()
    print(f"copied {result['copied']} documents ({result['passages']} passages), {result['unchanged']} already there, "
          f"into {target.location} in {time.perf_counter() - started:.1f}s. Its vectors are still in "
          f"{'the Chroma server' if settings.chroma_host else f'{settings.data_dir}/chroma'}: set NEWSQA_DATABASE_URL "
          "and keep the same Chroma settings, or set NEWSQA_CHROMA_HOST too and run `python app.py reindex` to "
          "embed them into a Chroma server (docs/deploy.md).")
    return 0


def cmd_serve(args) -> int:
    from assistant.web.app import serve

    serve(_settings(args))
    return 0


def _iso_date(value: str) -> str:
    import datetime

    try:
        return datetime.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2023-01-31") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="Answer questions about news articles, with citations.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, func, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--data-dir", help="index folder (default: ./data, or NEWSQA_DATA_DIR)")
        p.set_defaults(func=func)
        return p

    p = command("ingest", cmd_ingest, "Add articles from files, directories (recursive) or '-' for stdin.")
    p.add_argument("paths", nargs="*", help=".txt .md .html .csv .jsonl .json files or directories; '-' or nothing reads stdin")
    p.add_argument("--format", choices=["txt", "md", "html", "csv", "jsonl", "json"], help="format of stdin (sniffed when omitted)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command("documents", cmd_documents, "List indexed documents with their passage counts.")
    p.add_argument("--json", action="store_true", help="print a JSON list (doc_id, title, source, published, passages)")

    p = command("delete", cmd_delete, "Delete documents by id.")
    p.add_argument("doc_ids", nargs="+", metavar="DOC_ID")

    p = command("reindex", cmd_reindex, "Re-embed every stored article with the current embedding model "
                "(after changing embedding_model); if interrupted, run it again.")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command("check", cmd_check, "Compare the catalog with the vector index, id by id; exit code 1 when they differ.")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")

    command("repair", cmd_repair, "Re-embed passages missing from the vector index (from the stored texts) and "
            "delete vectors of no stored passage.")

    p = command("copy-catalog", cmd_copy_catalog, "Copy the data directory's SQLite catalog (documents, passages, "
                "lexical index) into a PostgreSQL database, for the shared mode; run again to finish an interrupted copy.")
    p.add_argument("--to", required=True, metavar="POSTGRESQL_URL", help="the target database, e.g. postgresql://user@host/newsqa")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = command("ask", cmd_ask, "Answer a question; with no question, answer each line of stdin in turn.")
    p.add_argument("question", nargs="?", help="the question (omit to read questions from stdin, one per line)")
    p.add_argument("--json", action="store_true", help="print the answer contract as JSON (one object per line)")
    p.add_argument("--k", type=int, help="passages to retrieve")
    p.add_argument("--mode", dest="answer_mode", choices=["auto", "reader", "extractive", "openai", "llamacpp"], help="answer mode")
    p.add_argument("--follow-up", action="store_true", help="treat stdin questions as one conversation")
    p.add_argument("--source", action="append", help="only articles with this source (repeatable)")
    p.add_argument("--from", dest="published_from", type=_iso_date, help="only articles published on or after YYYY-MM-DD")
    p.add_argument("--to", dest="published_to", type=_iso_date, help="only articles published on or before YYYY-MM-DD")

    p = command("serve", cmd_serve, "Start the chat page and the APIs on one server.")
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 7860)")
    p.add_argument("--mode", dest="answer_mode", choices=["auto", "reader", "extractive", "openai", "llamacpp"], help="answer mode")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        return args.func(args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted after {time.perf_counter() - started:.1f}s; run the same command again to finish", file=sys.stderr)
        return 130
