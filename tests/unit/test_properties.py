"""Properties of chunking and loading that every input must keep: offsets slice the text exactly.

Citations are offsets into `Article.text`, so an off-by-one anywhere shows the reader the wrong
evidence. Examples mix news-like fragments (abbreviations, quotes, CRLF, blank lines) with any
unicode; counts are kept small so the file runs in seconds, and no example database is kept.
"""

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import LoadError
from index.chunker import chunk_article, split_sentences
from index.documents import Article
from index.loaders import load_bytes, load_paths

FRAGMENTS = [
    "Mr. ", "Dr. Smith", "U.S. ", "e.g. ", "J. Doe", "Sept. 5", "No. 3", "said.", "said!", "what?", "...", "?!",
    '"Quoted." ', "'single' ", "(aside.) ", "[note] ", "\u201ccurly\u201d ", "\n", "\r\n", "\r", "\n\n", "  ", "\t",
    " ", "\u00a0", "\u2028", "\ufeff", "A", "The", "9", "x", "caf\u00e9", "\u00c9t\u00e9", "\u4e2d\u6587\u3002", ",", ";",
    '"', "One,Two,2017-01-03", 'x,"y",z',  # lines shaped like CSV rows, inside a quoted field
]
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)  # no lone surrogates: they cannot be saved
ARTICLE_TEXT = st.lists(st.one_of(st.sampled_from(FRAGMENTS), TEXT), max_size=40).map("".join)
FAST = settings(max_examples=150, deadline=None, database=None)


def assert_sentences_exact(text: str) -> None:
    spans = split_sentences(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)  # in order, non-overlapping, non-empty
        assert text[start:end] == text[start:end].strip()  # trimmed of surrounding whitespace
        previous_end = end
    covered = {i for start, end in spans for i in range(start, end)}
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())


def assert_passages_exact(article: Article) -> None:
    sentences = split_sentences(article.text)
    passages = chunk_article(article, sentences_per_passage=3, overlap=1, max_chars=120)
    assert [p.index for p in passages] == list(range(len(passages)))
    for passage in passages:
        assert passage.text == article.text[passage.start : passage.end]
        assert passage.sentences and (passage.start, passage.end) == (passage.sentences[0][0], passage.sentences[-1][1])
        assert all(s in sentences for s in passage.sentences)
    assert sorted({s for p in passages for s in p.sentences}) == sentences  # no sentence is lost


@FAST
@given(ARTICLE_TEXT)
def test_sentences_slice_the_text_exactly_and_cover_it(text):
    assert_sentences_exact(text)


@FAST
@given(ARTICLE_TEXT)
def test_passages_slice_the_article_exactly(text):
    assert_passages_exact(Article(text=text, title="t", source="s"))


def loaded(results) -> Article | None:
    """The one article loaded, or None when the loader refused the input with a LoadError."""
    results = list(results)
    assert len(results) == 1
    if isinstance(results[0], LoadError):
        return None
    return results[0]


@FAST
@given(ARTICLE_TEXT)
def test_plain_text_file_keeps_the_text_except_bom_and_trailing_whitespace(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.txt"
        path.write_bytes(text.encode("utf-8"))
        article = loaded(load_paths([path]))
    expected = text.removeprefix("\ufeff").rstrip()
    if not expected.strip() or "\x00" in text:
        assert article is None  # empty, only whitespace, or taken for binary
        return
    assert article.text == expected
    assert_passages_exact(article)


def csv_bytes(rows: list[list[str]], delimiter: str = ",", newline: str = "\n") -> bytes:
    out = io.StringIO()
    # csv.writer leaves a bare "\r" unquoted when rows end in "\n", which makes a file that is broken for
    # every reader; quote every field then, as a spreadsheet saving with "\n" would have to.
    quoting = csv.QUOTE_ALL if newline == "\n" else csv.QUOTE_MINIMAL
    csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=quoting).writerows([["title", "text", "date"], *rows])
    return out.getvalue().encode("utf-8")


@FAST
@given(st.lists(ARTICLE_TEXT, min_size=1, max_size=4), st.sampled_from([",", ";", "\t"]), st.sampled_from(["\n", "\r\n"]))
def test_csv_fields_keep_their_text_stripped_and_no_row_is_swallowed(texts, delimiter, newline):
    rows = [[f"T{i}", text, f"2017-01-{i + 1:02}"] for i, text in enumerate(texts)] + [["Next", "Next story.", "2017-02-01"]]
    results = list(load_bytes(csv_bytes(rows, delimiter, newline), "feed.csv"))
    if any("\x00" in text for text in texts):
        return  # taken for binary, as it should be
    expected = {f"T{i}": text.strip() for i, text in enumerate(texts) if text.strip()} | {"Next": "Next story."}
    articles = [r for r in results if isinstance(r, Article)]
    assert {a.title: a.text for a in articles} == expected
    assert all("no text" in r.problem for r in results if isinstance(r, LoadError))  # only the blank ones
    for article in articles:
        assert article.published == rows[[r[0] for r in rows].index(article.title)][2]
        assert_passages_exact(article)


PLAIN_CELL = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Zl", "Zp", "Cc")).filter(lambda c: c not in ',"'),
                     min_size=1, max_size=15).filter(str.strip)
QUOTE = '"'


@FAST
@given(st.lists(PLAIN_CELL, min_size=2, max_size=6), st.data())
def test_csv_unclosed_quotes_cost_only_their_own_rows(texts, data):
    broken = data.draw(st.sets(st.integers(0, len(texts) - 2), min_size=1), label="broken")  # a last row swallows nothing
    lines = [f"T{i},{QUOTE if i in broken else ''}{text},2017-01-{i + 1:02}" for i, text in enumerate(texts)]
    results = list(load_bytes(("title,text,date\n" + "\n".join(lines) + "\n").encode("utf-8"), "feed.csv"))
    errors = [r.problem for r in results if isinstance(r, LoadError)]
    assert [e.split(":")[0] for e in errors] == [f"row {i + 1}" for i in sorted(broken)]
    assert all("quote" in e for e in errors)
    assert [(a.title, a.text) for a in results if isinstance(a, Article)] == [
        (f"T{i}", text.strip()) for i, text in enumerate(texts) if i not in broken]


@FAST
@given(ARTICLE_TEXT, st.booleans())
def test_jsonl_record_keeps_the_text_stripped(text, ascii_only):
    line = json.dumps({"title": "T", "text": text}, ensure_ascii=ascii_only)
    article = loaded(load_bytes((line + "\n").encode("utf-8"), "feed.jsonl"))
    if not text.strip():
        assert article is None
        return
    assert article.text == text.strip()
    assert_passages_exact(article)
