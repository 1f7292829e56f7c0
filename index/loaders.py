"""Turn files, uploads and stdin into Articles, one bad file or record at a time.

Loaders yield a `LoadError` instead of raising, so one broken file never stops a batch; the
caller decides whether to report, count or abort. Plain-text articles keep their text exactly as
decoded (only a BOM and trailing whitespace go) because citations are offsets into it.
"""

import csv
import email.utils
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bs4 import BeautifulSoup

from assistant.errors import LoadError
from index.chunker import split_sentences
from index.documents import Article

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".csv", ".jsonl", ".json")

# Field -> accepted column / key names (compared lower-cased), in order of preference.
_ALIASES = {
    "text": ("text", "body", "content", "article", "story"),
    "title": ("title", "headline"),
    "published": ("date", "published", "published_at", "publish_date", "pubdate"),
    "url": ("url", "link", "source"),
    "author": ("author", "authors", "byline"),
    "subject": ("subject", "category", "section", "topic"),
}
_DATE_FORMATS = ("%Y/%m/%d", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d-%b-%y", "%d-%b-%Y", "%d %B %Y", "%d %b %Y", "%d %B, %Y")
_DROPPED_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg")
_BLOCK_TAGS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre")
_HTML_START = re.compile(r"\s*<(!doctype\s+html|html|head|body|article|main|div|p|meta|title|!--)\b", re.I)
_BINARY_PROBE = 8192


def load_paths(paths: Iterable[str | Path]) -> Iterator[Article | LoadError]:
    """Every article in the given files and directories (recursive, sorted, hidden names skipped).

    Directories silently skip unsupported suffixes; a file named explicitly must be supported.
    """
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from _walk(path)
        elif not path.exists():
            yield LoadError(str(path), "no such file or directory")
        else:
            yield from _load_file(path)


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
    """ISO `YYYY-MM-DD` from the date forms news data uses; None when unreadable (never an error)."""
    s = " ".join(str(value or "").split())
    if not s:
        return None
    try:
        return datetime.fromisoformat(s).date().isoformat()
    except ValueError:
        pass
    plain = s.replace(".", "").replace("Sept ", "Sep ")  # "Dec. 31, 2017", "Sept. 5, 2017"
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(plain, fmt).date().isoformat()
        except ValueError:
            pass
    try:  # RFC 2822, as in RSS feeds: "Sun, 31 Dec 2017 10:00:00 GMT"
        return email.utils.parsedate_to_datetime(s).date().isoformat()
    except (TypeError, ValueError):
        return None


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


def _walk(directory: Path) -> Iterator[Article | LoadError]:
    try:
        children = sorted(directory.iterdir())
    except OSError as e:
        yield LoadError(str(directory), f"cannot list directory ({e.strerror})")
        return
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_dir() and not child.is_symlink():  # not following links avoids cycles
            yield from _walk(child)
        elif child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
            yield from _load_file(child)


def _load_file(path: Path) -> Iterator[Article | LoadError]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield LoadError(str(path), _unsupported(suffix))
        return
    try:
        data = path.read_bytes()
    except OSError as e:
        yield LoadError(str(path), f"cannot read file ({e.strerror})")
        return
    yield from _load_data(data, str(path), suffix[1:])


def _load_data(data: bytes, name: str, fmt: str) -> Iterator[Article | LoadError]:
    if not data:
        yield LoadError(name, "file is empty")
        return
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM, as some Windows tools save
        yield from _parse(data.decode("utf-16", errors="replace"), name, fmt)
        return
    if b"\x00" in data[:_BINARY_PROBE]:
        yield LoadError(name, "looks like a binary file, not text")
        return
    if fmt in ("html", "htm"):  # BeautifulSoup honours the page's declared charset
        yield from _guarded(_html(data, name), name)
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        yield LoadError(name, f"is not valid UTF-8 text (byte {e.start}); save it as UTF-8")
        return
    yield from _parse(text, name, fmt)


def _parse(text: str, name: str, fmt: str, key_by_title: bool = False) -> Iterator[Article | LoadError]:
    parsers = {"html": _html, "htm": _html, "csv": _csv, "jsonl": _jsonl, "json": _json}
    if "." + fmt not in SUPPORTED_SUFFIXES:
        yield LoadError(name, _unsupported("." + fmt))
    elif not text.strip():
        yield LoadError(name, "has no text (only whitespace)")
    elif fmt in ("txt", "md"):
        yield _plain(text, name, markdown=fmt == "md", key_by_title=key_by_title)
    else:
        yield from _guarded(parsers[fmt](text, name), name)


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
    header = {cell.strip().lower() for cell in first_line.split(_delimiter(first_line))}
    return "csv" if len(header) > 1 and header & set(_ALIASES["text"]) else "txt"


def _plain(text: str, name: str, markdown: bool = False, key_by_title: bool = False) -> Article:
    text = text.rstrip()  # only the end: offsets from the start stay those of the file
    title = derive_title(text, markdown)
    return Article(text=text, title=title, source=name, key=f"{name}#{title}" if key_by_title else name)


def _html(markup: str | bytes, name: str) -> Iterator[Article | LoadError]:
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
    source = url or name
    yield Article(
        text=text,
        title=" ".join(title.split()) or derive_title(text),
        source=source,
        published=parse_date(date or time_value),
        author=meta.get("author"),
        key=source,
    )


def _csv(text: str, name: str) -> Iterator[Article | LoadError]:
    """One article per row; rows are numbered from 1 after the header, as in error messages."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # whole articles sit in one field
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    header = [cell.strip().lower() for cell in next(reader, [])]
    if not set(header) & set(_ALIASES["text"]):
        yield LoadError(name, f"has no text column (expected one of: {', '.join(_ALIASES['text'])})")
        return
    for number, row in enumerate(reader, start=1):
        if any(cell.strip() for cell in row):
            yield _record(dict(zip(header, row)), name, f"row {number}", f"row={number}")


def _delimiter(header_line: str) -> str:
    return max(",;\t|", key=header_line.count)


def _jsonl(text: str, name: str) -> Iterator[Article | LoadError]:
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 may sit in a string
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            yield LoadError(name, f"line {number}: not valid JSON ({e})")
            continue
        yield _record(obj, name, f"line {number}", f"line={number}")


def _json(text: str, name: str) -> Iterator[Article | LoadError]:
    try:
        data = json.loads(text)
    except ValueError as e:
        yield LoadError(name, f"is not valid JSON ({e})")
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
        yield _record(obj, name, f"item {number}", f"item={number}")


def _record(obj: object, name: str, where: str, anchor: str) -> Article | LoadError:
    """One CSV row or JSON object as an Article; `where` words errors, `anchor` names the record."""
    if not isinstance(obj, dict):
        return LoadError(name, f"{where}: expected an object with a text field, got {type(obj).__name__}")
    fields = {str(k).strip().lower(): v for k, v in obj.items()}
    value = {field: _pick(fields, aliases) for field, aliases in _ALIASES.items()}
    text = (value["text"] or "").strip()
    if not text:
        return LoadError(name, f"{where}: no text")
    url = value["url"] if value["url"] and re.match(r"(https?://|www\.)", value["url"], re.I) else None
    title = " ".join(value["title"].split()) if value["title"] else None
    return Article(
        text=text,
        title=title or derive_title(text),
        source=url or f"{name}#{anchor}",
        published=parse_date(value["published"]),
        author=value["author"],
        subject=value["subject"],
        key=url or (f"{name}#{title}" if title else f"{name}#{anchor}"),
    )


def _pick(fields: dict, aliases: tuple[str, ...]) -> str | None:
    for alias in aliases:
        value = fields.get(alias)
        if isinstance(value, list):
            value = ", ".join(str(v).strip() for v in value if v)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None
