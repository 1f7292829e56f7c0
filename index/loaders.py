"""Turn files, uploads and stdin into Articles, one bad file or record at a time.

Loaders yield a `LoadError` instead of raising, so one broken file never stops a batch; the
caller decides whether to report, count or abort. Plain-text articles keep their text exactly as
decoded (only a BOM and trailing whitespace go) because citations are offsets into it.

A file's identity (`Article.key`, hence its doc_id) is its resolved path, so `dir/a.txt`,
`./dir/a.txt` and `dir/../dir/a.txt` are one document; what users see and filter on (`source`,
error messages) is the normalised spelling they gave.
"""

import csv
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bs4 import BeautifulSoup
from dateutil import parser as dateutil_parser

from core.errors import LoadError
from index.chunker import split_sentences
from index.csv_rows import csv_rows, delimiter_of
from index.documents import Article

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".csv", ".jsonl", ".json")

# Field -> accepted column / key names (compared lower-cased), in order of preference.
_ALIASES = {
    "text": ("text", "body", "content", "article", "story"),
    "title": ("title", "headline"),
    "published": ("date", "published", "published_at", "publish_date", "pubdate"),
    "url": ("url", "link"),
    "source": ("source", "publisher", "outlet", "site", "source_name"),  # a URL here is taken as the url
    "author": ("author", "authors", "byline"),
    "subject": ("subject", "category", "section", "topic"),
}
_DATE_DEFAULTS = (datetime(1, 1, 1), datetime(2, 2, 2))  # what dateutil fills a missing year, month or day with
_YEAR_FIRST = re.compile(r"\d{4}\D")  # "2017/12/31" is year, month, day; never year, day, month
_DATE_MAX_CHARS = 80  # the longest form ("Wednesday, September 27, 2017 10:00:00 AM EST") is 46
_DROPPED_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg")
_BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre")
_HTML_START = re.compile(r"\s*<(!doctype\s+html|html|head|body|article|main|div|p|meta|title|!--)\b", re.I)
_BINARY_PROBE = 8192
_URL = re.compile(r"(https?://|www\.)", re.I)
_PLAIN = (str, int, float)  # JSON values that can be a field; nested lists and objects are not
_TOO_DEEP = "is nested too deeply to read (lists or objects hundreds of levels deep); an article record is one flat object"


def load_paths(paths: Iterable[str | Path]) -> Iterator[Article | LoadError]:
    """Every article in the given files and directories (recursive, sorted, hidden names skipped).

    Directories silently skip unsupported suffixes; a file named explicitly must be supported.
    """
    for given in paths:
        path, shown = Path(given), os.path.normpath(given)
        if path.is_dir():
            yield from _walk(path, shown)
        elif not path.exists():
            yield LoadError(shown, "no such file or directory")
        else:
            yield from _load_file(path, shown)


def load_stream(stream: TextIO, name: str = "<stdin>", fmt: str | None = None) -> Iterator[Article | LoadError]:
    """Articles piped in, the format named by `fmt` ("csv", ".json", ...) or else sniffed from the content.

    Sniffing tries JSON (array or object), JSON lines, HTML, CSV whose header has a text column, then
    plain text. A plain-text article from an unnamed stream ("<stdin>") is keyed by its title too, so
    two different piped articles do not replace each other in the index.
    """
    try:
        text = stream.read()
    except UnicodeDecodeError as e:
        yield LoadError(name, f"is not valid text in the input encoding ({e.reason}); send UTF-8")
        return
    text = text.removeprefix("\ufeff")
    if not text:
        yield LoadError(name, "input is empty")
    elif "\x00" in text[:_BINARY_PROBE]:
        yield LoadError(name, "looks like a binary file, not text")
    else:
        yield from _parse(text, name, (fmt or _sniff(text)).lower().lstrip("."), key_by_title=name.startswith("<"))


def load_bytes(data: bytes, filename: str) -> Iterator[Article | LoadError]:
    """Articles from an upload; the format comes from the file name's extension."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield LoadError(filename, _unsupported(suffix))
        return
    yield from _load_data(data, filename, suffix[1:])


def parse_date(value: object) -> str | None:
    """ISO `YYYY-MM-DD` from the date forms news data uses; None when unreadable (never an error).
    python-dateutil reads them (not fuzzily; ~0.16 ms a read, so ISO dates go to `fromisoformat`
    first). A date must be whole and unambiguous: read again with other defaults and the other
    day/month order, it must come out the same, so "May 2017", "Monday" and "01/02/2017" give None
    rather than a guess, while "12/31/2017" and "31/12/2017" are read."""
    s = " ".join(str(value or "").split())
    if not s or len(s) > _DATE_MAX_CHARS:
        return None
    try:
        return datetime.fromisoformat(s).date().isoformat()
    except ValueError:
        pass
    year_first = bool(_YEAR_FIRST.match(s))
    try:
        one = dateutil_parser.parse(s, default=_DATE_DEFAULTS[0], ignoretz=True, yearfirst=year_first)
        other = dateutil_parser.parse(s, default=_DATE_DEFAULTS[1], ignoretz=True, yearfirst=year_first,
                                      dayfirst=not year_first)
    except (ValueError, OverflowError):  # dateutil's ParserError is a ValueError
        return None
    return one.date().isoformat() if one.date() == other.date() else None


def derive_title(text: str, markdown: bool = False) -> str:
    """A title for an article that has none: a heading or short first line, else its first sentence."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    first, following = lines[0], (lines[1] if len(lines) > 1 else "")
    if markdown and (heading := re.fullmatch(r"#{1,6}\s+(.+?)\s*#*", first)):
        return heading[1]
    runs_on = first.endswith((",", ";", ":", "-", "\u2013")) or (first[-1].isalnum() and following[:1].islower())
    if len(first) <= 120 and not runs_on:
        return first
    flat = " ".join(text[:2000].split())[:300]  # enough: a longer first sentence is cut to 100 anyway
    start, end = split_sentences(flat)[0]
    return _shorten(flat[start:end], 100)


def _shorten(s: str, limit: int) -> str:
    if len(s) <= limit:
        return s
    return s[:limit].rsplit(" ", 1)[0].rstrip(",;:-\u2013 ") + "\u2026"


def _unsupported(suffix: str) -> str:
    return f"unsupported file type {suffix or '(no extension)'!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}"


def _walk(directory: Path, shown: str) -> Iterator[Article | LoadError]:
    try:
        children = sorted(directory.iterdir())
    except OSError as e:
        yield LoadError(shown, f"cannot list directory ({e.strerror})")
        return
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_dir() and not child.is_symlink():  # not following links avoids cycles
            yield from _walk(child, os.path.join(shown, child.name))
        elif child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
            yield from _load_file(child, os.path.join(shown, child.name))


def _load_file(path: Path, shown: str) -> Iterator[Article | LoadError]:
    """`shown` names the file to users; its resolved path (links followed) is its identity."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield LoadError(shown, _unsupported(suffix))
        return
    try:
        data = path.read_bytes()
    except OSError as e:
        yield LoadError(shown, f"cannot read file ({e.strerror})")
        return
    yield from _load_data(data, shown, suffix[1:], ident=os.path.realpath(path))  # realpath: resolve() that never raises


def _load_data(data: bytes, name: str, fmt: str, ident: str | None = None) -> Iterator[Article | LoadError]:
    if not data:
        yield LoadError(name, "file is empty")
        return
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM, as some Windows tools save
        yield from _parse(data.decode("utf-16", errors="replace"), name, fmt, ident=ident)
        return
    if b"\x00" in data[:_BINARY_PROBE]:
        yield LoadError(name, "looks like a binary file, not text")
        return
    if fmt in ("html", "htm"):  # BeautifulSoup honours the page's declared charset
        yield from _guarded(_html(data, name, ident), name)
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        yield LoadError(name, f"is not valid UTF-8 text (byte {e.start}); save it as UTF-8")
        return
    yield from _parse(text, name, fmt, ident=ident)


def _parse(text: str, name: str, fmt: str, key_by_title: bool = False, ident: str | None = None) -> Iterator[Article | LoadError]:
    """`name` is shown in sources and errors; `ident` (default: `name`) is the file's identity in keys."""
    ident = ident or name
    parsers = {"html": _html, "htm": _html, "csv": _csv, "jsonl": _jsonl, "json": _json}
    if "." + fmt not in SUPPORTED_SUFFIXES:
        yield LoadError(name, _unsupported("." + fmt))
    elif not text.strip():
        yield LoadError(name, "has no text (only whitespace)")
    elif fmt in ("txt", "md"):
        yield _plain(text, name, ident, markdown=fmt == "md", key_by_title=key_by_title)
    else:
        yield from _guarded(parsers[fmt](text, name, ident), name)


def _guarded(records: Iterator[Article | LoadError], name: str) -> Iterator[Article | LoadError]:
    """Turn a parser's crash on strange input into one LoadError, so the batch goes on."""
    try:
        yield from records
    except (ValueError, csv.Error, RecursionError) as e:
        yield LoadError(name, f"could not be parsed ({e})")


def _sniff(text: str) -> str:
    head = text.lstrip()
    if re.match(r"\[\s*[{\]]", head):  # not "[UPDATED] Floods ...", which is prose
        return "json"
    if head.startswith("{"):
        try:
            json.loads(text)
            return "json"
        except ValueError:
            return "jsonl"
    if _HTML_START.match(head):
        return "html"
    first_line = head.split("\n", 1)[0]
    header = {cell.strip().lower() for cell in first_line.split(delimiter_of(first_line))}
    return "csv" if len(header) > 1 and header & set(_ALIASES["text"]) else "txt"


def _plain(text: str, name: str, ident: str, markdown: bool = False, key_by_title: bool = False) -> Article:
    text = text.rstrip()  # only the end: offsets from the start stay those of the file
    title = derive_title(text, markdown)
    return Article(text=text, title=title, source=name, key=f"{ident}#{title}" if key_by_title else ident)


def _html(markup: str | bytes, name: str, ident: str | None = None) -> Iterator[Article | LoadError]:
    soup = BeautifulSoup(markup, "lxml")
    meta = {}
    for tag in soup.find_all("meta"):
        label = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").lower()
        if label and tag.get("content") and label not in meta:
            meta[label] = tag["content"].strip()
    canonical = soup.find("link", rel="canonical")
    url = meta.get("og:url") or (canonical.get("href") if canonical else None)
    time_tag = soup.find("time", datetime=True)
    time_value = time_tag["datetime"] if time_tag else None  # read now: it may sit in a <header> dropped below
    date = next((meta[k] for k in ("article:published_time", "og:published_time", "date", "pubdate", "datepublished") if k in meta), None)
    title_tag, h1 = soup.find("title"), soup.find("h1")
    title = meta.get("og:title") or (title_tag and title_tag.get_text()) or (h1 and h1.get_text()) or ""

    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()
    body = soup.find("article") or soup.find("main") or soup.body or soup
    blocks = [b for b in body.find_all(_BLOCK_TAGS) if not b.find_parent(_BLOCK_TAGS)]
    parts = [b.get_text() if b.name == "pre" else " ".join(b.get_text(" ").split()) for b in blocks]
    if not blocks:  # a page of bare <div>s: keep its lines of text
        parts = [" ".join(line.split()) for line in body.get_text("\n").splitlines()]
    text = "\n".join(p.strip("\n") for p in parts if p.strip())
    if not text.strip():
        yield LoadError(name, "no article text found in the HTML")
        return
    yield Article(
        text=text,
        title=" ".join(title.split()) or derive_title(text),
        source=url or name,
        published=parse_date(date or time_value),
        author=meta.get("author"),
        key=url or ident or name,
    )


def _csv(text: str, name: str, ident: str) -> Iterator[Article | LoadError]:
    """One article per row; rows are numbered from 1 after the header, as in error messages."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # whole articles sit in one field
    lines = io.StringIO(text, newline="").readlines()  # the physical lines csv itself reads
    delimiter = delimiter_of(lines[0])
    reader = csv.reader(lines, delimiter=delimiter)
    header = [cell.strip().lower() for cell in next(reader, [])]
    if not set(header) & set(_ALIASES["text"]):
        yield LoadError(name, f"has no text column (expected one of: {', '.join(_ALIASES['text'])})")
        return
    for number, row in enumerate(csv_rows(lines, reader.line_num, delimiter, len(header)), start=1):
        if row is None:
            yield LoadError(name, f"row {number}: a quote in it is never closed, so it ran on into the next row; the rows after "
                                  'it were read on their own, this one was skipped: close the quote, or double one inside text ("")')
        elif any(cell.strip() for cell in row):
            yield _record(dict(zip(header, row)), name, f"row {number}", f"row={number}", ident)


def _jsonl(text: str, name: str, ident: str) -> Iterator[Article | LoadError]:
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 may sit in a string
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            yield LoadError(name, f"line {number}: not valid JSON ({e})")
            continue
        except RecursionError:
            yield LoadError(name, f"line {number}: {_TOO_DEEP}")
            continue
        yield _record(obj, name, f"line {number}", f"line={number}", ident)


def _json(text: str, name: str, ident: str) -> Iterator[Article | LoadError]:
    try:
        data = json.loads(text)
    except ValueError as e:
        yield LoadError(name, f"is not valid JSON ({e})")
        return
    except RecursionError:
        yield LoadError(name, _TOO_DEEP)
        return
    if isinstance(data, dict):
        lists = [data[k] for k in ("articles", "data", "items") if isinstance(data.get(k), list)]
        if lists:
            data = lists[0]
        elif any(str(k).lower() in _ALIASES["text"] for k in data):
            data = [data]
    if not isinstance(data, list):
        yield LoadError(name, "has no articles (expected a list of objects, or one under 'articles', 'data' or 'items')")
        return
    for number, obj in enumerate(data, start=1):
        yield _record(obj, name, f"item {number}", f"item={number}", ident)


def _record(obj: object, name: str, where: str, anchor: str, ident: str) -> Article | LoadError:
    """One CSV row or JSON object as an Article; `where` words errors, `anchor` names the record.

    A URL (url, link, or a source that is one) is the identity; a source that is a name ("Oldham
    Gazette") is what users see and filter on, so it wins over the URL as `source`.
    """
    if not isinstance(obj, dict):
        return LoadError(name, f"{where}: expected an object with a text field, got {type(obj).__name__}")
    fields = {str(k).strip().lower(): v for k, v in obj.items()}
    value = {field: _pick(fields, aliases) for field, aliases in _ALIASES.items()}
    text = (value["text"] or "").strip()
    if not text:
        return LoadError(name, f"{where}: no text (expected a non-empty string under one of: {', '.join(_ALIASES['text'])})")
    links = [_pick(fields, (alias,)) for alias in _ALIASES["url"] + _ALIASES["source"]]
    url = next((link for link in links if link and _URL.match(link)), None)
    outlet = next((link for link in links[len(_ALIASES["url"]):] if link and not _URL.match(link)), None)
    title = " ".join(value["title"].split()) if value["title"] else None
    return Article(
        text=text,
        title=title or derive_title(text),
        source=outlet or url or f"{name}#{anchor}",
        published=parse_date(value["published"]),
        author=value["author"],
        subject=value["subject"],
        key=url or (f"{ident}#{title}" if title else f"{ident}#{anchor}"),
    )


def _pick(fields: dict, aliases: tuple[str, ...]) -> str | None:
    """The first alias holding plain values; nested objects are skipped, never turned into text."""
    for alias in aliases:
        value = fields.get(alias)
        if isinstance(value, list):
            value = ", ".join(str(v).strip() for v in value if isinstance(v, _PLAIN) and str(v).strip())
        if isinstance(value, _PLAIN) and str(value).strip():
            return str(value).strip()
    return None
