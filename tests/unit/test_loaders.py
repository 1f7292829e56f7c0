"""Loaders turn every supported format into Articles and every bad input into a LoadError."""

import io
import json
from pathlib import Path

import pytest

from core.errors import LoadError
from index.documents import Article
from index.loaders import SUPPORTED_SUFFIXES, derive_title, load_bytes, load_paths, load_stream, parse_date
from tests.support import SAMPLE


def split(results):
    results = list(results)
    return [r for r in results if isinstance(r, Article)], [r for r in results if isinstance(r, LoadError)]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def test_sample_loads_as_one_article_titled_by_its_first_sentence():
    articles, errors = split(load_paths([SAMPLE]))
    assert errors == [] and len(articles) == 1
    article = articles[0]
    assert article.text == SAMPLE.read_text(encoding="utf-8")  # the file has no trailing newline
    assert article.title.startswith("AIN ISSA, Syria/BEIRUT (Reuters) - U.S.-backed militias launched")
    assert article.title.endswith("\u2026") and len(article.title) <= 101
    assert article.source == article.key == str(SAMPLE)


def test_plain_text_is_kept_exactly_except_bom_and_trailing_whitespace(tmp_path):
    body = "Short headline\n\n  Indented  paragraph with  doubled spaces and Syria s dropped apostrophe.\r\nMore.\n"
    path = write(tmp_path / "a.txt", b"\xef\xbb\xbf" + body.encode())
    [article] = load_paths([path])
    assert article.text == body.rstrip()
    assert article.title == "Short headline"
    assert article.source == article.key == str(path)
    assert article.published is None


def test_markdown_heading_becomes_the_title(tmp_path):
    path = write(tmp_path / "note.md", "\n# Floods close the port\n\nThe port closed on Monday after heavy rain.\n")
    [article] = load_paths([path])
    assert article.title == "Floods close the port"
    assert article.text.startswith("\n# Floods")


def test_title_skips_a_first_line_that_runs_on():
    wrapped = "The battle will continue until the whole city is\nclean, said a statement. More follows here."
    assert derive_title(wrapped) == "The battle will continue until the whole city is clean, said a statement."
    assert derive_title("Mr. Smith went to Washington. Then he left.\n" + "x" * 200) == "Mr. Smith went to Washington. Then he left."


def test_html_keeps_article_text_and_reads_meta(tmp_path):
    page = """<!doctype html><html><head>
      <title>Fallback title | Site</title>
      <meta property="og:title" content="Dam breaks after storm">
      <meta property="article:published_time" content="2023-01-05T08:00:00+01:00">
      <meta name="author" content="Jane Roe">
      <link rel="canonical" href="https://news.example/dam">
      <style>body { color: red }</style><script>var tracking = 1;</script>
    </head><body>
      <nav><a href="/">Home</a> Menu items</nav>
      <p>Sidebar teaser outside the article.</p>
      <article>
        <header><p>Byline furniture</p></header>
        <h1>Dam breaks</h1>
        <p>The dam   broke on Thursday.</p>
        <script>alert("ad")</script>
        <ul><li><p>Two villages were evacuated.</p></li></ul>
        <blockquote><p>It was sudden,</p><p>a resident said.</p></blockquote>
      </article>
      <footer>Copyright</footer>
    </body></html>"""
    [article] = load_paths([write(tmp_path / "dam.html", page)])
    assert article.text == "Dam breaks\nThe dam broke on Thursday.\nTwo villages were evacuated.\nIt was sudden, a resident said."
    assert article.title == "Dam breaks after storm"
    assert article.published == "2023-01-05"
    assert article.author == "Jane Roe"
    assert article.source == article.key == "https://news.example/dam"
    for junk in ("tracking", "alert", "Menu", "Sidebar", "Byline", "Copyright", "color"):
        assert junk not in article.text


def test_html_without_meta_uses_title_tag_time_and_file_path(tmp_path):
    page = "<html><head><title>Quiet day</title></head><body><main><p>Nothing happened.</p>" \
           '<time datetime="2017-12-31">New Year\'s Eve</time></main></body></html>'
    path = write(tmp_path / "quiet.htm", page)
    [article] = load_paths([path])
    assert (article.title, article.published, article.source) == ("Quiet day", "2017-12-31", str(path))
    assert article.text == "Nothing happened."


def test_html_date_from_a_time_tag_inside_a_dropped_header(tmp_path):
    page = '<article><header><h1>Vote count</h1><time datetime="2020-11-04T09:00:00Z">Nov 4</time></header><p>Counting went on.</p></article>'
    [article] = load_paths([write(tmp_path / "vote.html", page)])
    assert (article.title, article.published, article.text) == ("Vote count", "2020-11-04", "Counting went on.")


def test_fake_news_style_csv(tmp_path):
    long_text = "WASHINGTON (Reuters) - " + "Lawmakers debated the budget. " * 8000  # > default csv field limit
    path = write(
        tmp_path / "True.csv",
        'title,text,subject,date\n'
        f'"Budget talks stall","{long_text}",politicsNews,"December 31, 2017 "\n'
        '"Empty one","",News,31-Dec-17\n'
        '"Quotes, ""and"" commas","He said: ""no,\nnot now"".",worldnews,31-Dec-17\n',
    )
    articles, errors = split(load_paths([path]))
    assert [a.title for a in articles] == ["Budget talks stall", 'Quotes, "and" commas']
    assert articles[0].text == long_text.strip()
    assert (articles[0].subject, articles[0].published) == ("politicsNews", "2017-12-31")
    assert articles[1].text == 'He said: "no,\nnot now".' and articles[1].published == "2017-12-31"
    assert articles[0].source == f"{path}#row=1" and articles[0].key == f"{path}#Budget talks stall"
    assert len(errors) == 1 and errors[0].source == str(path) and "row 2" in str(errors[0])


def test_csv_aliases_are_case_insensitive_and_url_is_the_source(tmp_path):
    path = write(tmp_path / "feed.csv", "Headline;Body;URL;Published_At;Byline;Section\nRates rise;The bank raised rates.;https://n.example/r;2023/01/05;Ann Lee;Business\n")
    [article] = load_paths([path])
    assert article.title == "Rates rise" and article.text == "The bank raised rates."
    assert article.source == article.key == "https://n.example/r"
    assert (article.published, article.author, article.subject) == ("2023-01-05", "Ann Lee", "Business")


def test_jsonl_bad_line_is_reported_and_the_rest_load(tmp_path):
    lines = [
        json.dumps({"title": "One", "content": "First story.", "authors": ["A. Writer", "B. Writer"], "date": "Dec 31, 2017"}),
        "{not json",
        "",
        json.dumps({"story": "Untitled second story. With two sentences.", "published": "someday"}),
    ]
    path = write(tmp_path / "feed.jsonl", "\n".join(lines) + "\n")
    articles, errors = split(load_paths([path]))
    assert [a.text for a in articles] == ["First story.", "Untitled second story. With two sentences."]
    assert articles[0].author == "A. Writer, B. Writer" and articles[0].published == "2017-12-31"
    assert articles[1].title == "Untitled second story. With two sentences." and articles[1].published is None
    assert articles[1].source == articles[1].key == f"{path}#line=4"
    assert len(errors) == 1 and "line 2" in str(errors[0]) and str(path) in str(errors[0])


@pytest.mark.parametrize(
    "payload",
    [
        [{"text": "Alpha."}, {"text": "Beta."}],
        {"articles": [{"text": "Alpha."}, {"text": "Beta."}]},
        {"data": [{"text": "Alpha."}, {"text": "Beta."}]},
    ],
)
def test_json_lists(tmp_path, payload):
    articles, errors = split(load_paths([write(tmp_path / "a.json", json.dumps(payload))]))
    assert errors == [] and [a.text for a in articles] == ["Alpha.", "Beta."]


def test_json_single_object_and_non_objects(tmp_path):
    [article] = load_paths([write(tmp_path / "one.json", '{"Title": "Solo", "Text": "Only story.", "link": "https://x.example/1"}')])
    assert (article.title, article.source) == ("Solo", "https://x.example/1")
    articles, errors = split(load_paths([write(tmp_path / "mixed.json", '[{"text": "Fine."}, 42]')]))
    assert len(articles) == 1 and "item 2" in errors[0].problem


@pytest.mark.parametrize(
    ("filename", "content", "problem"),
    [
        ("empty.txt", b"", "file is empty"),
        ("blank.txt", b"  \n\t\n", "only whitespace"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("latin1.txt", "caf\u00e9 au lait".encode("latin-1"), "not valid UTF-8 text (byte 3)"),
        ("broken.json", b'{"text": "unterminated', "not valid JSON"),
        ("notext.csv", b"title,date\nA,2017-01-01\n", "no text column"),
        ("nothing.html", b"<html><body><nav>Menu</nav><script>x()</script></body></html>", "no article text"),
    ],
)
def test_bad_files_yield_one_error_naming_the_file(tmp_path, filename, content, problem):
    path = write(tmp_path / filename, content)
    [error] = load_paths([path])
    assert isinstance(error, LoadError)
    assert problem in error.problem
    assert error.source == str(path) and str(path) in str(error)


def test_directory_walk_is_recursive_sorted_and_survives_bad_files(tmp_path):
    write(tmp_path / "b.txt", "Second article.")
    write(tmp_path / "a.txt", "First article.")
    write(tmp_path / "sub" / "c.md", "# Third\nBody.")
    write(tmp_path / "sub" / "deeper" / "d.jsonl", '{"text": "Fourth."}\n')
    write(tmp_path / "empty.txt", "")
    write(tmp_path / "binary.csv", b"\x00\x01\x02")
    write(tmp_path / "bad.jsonl", "{oops\n")
    write(tmp_path / "notes.docx", "ignored: unsupported suffix")
    write(tmp_path / ".hidden.txt", "ignored: hidden file")
    write(tmp_path / ".git" / "x.txt", "ignored: hidden directory")
    articles, errors = split(load_paths([tmp_path]))
    assert [a.text for a in articles] == ["First article.", "Second article.", "# Third\nBody.", "Fourth."]
    assert sorted(Path(e.source).name for e in errors) == ["bad.jsonl", "binary.csv", "empty.txt"]


def test_missing_and_unsupported_paths(tmp_path):
    unsupported = write(tmp_path / "report.pdf", b"%PDF-1.4")
    missing, wrong = load_paths([tmp_path / "nope.txt", unsupported])
    assert "no such file or directory" in missing.problem
    assert "unsupported file type '.pdf'" in wrong.problem and ".jsonl" in wrong.problem


@pytest.mark.parametrize(
    ("content", "expected_texts"),
    [
        ("Plain words from a pipe.\nSecond line.", ["Plain words from a pipe.\nSecond line."]),
        ('[{"text": "A."}, {"text": "B."}]', ["A.", "B."]),
        ('{"text": "A."}\n{"text": "B."}\n', ["A.", "B."]),
        ("headline,body\nH,Row text.\n", ["Row text."]),
        ("<!DOCTYPE html><html><body><p>Web text.</p></body></html>", ["Web text."]),
        ("[UPDATED] Floods hit the town.\nMore later.", ["[UPDATED] Floods hit the town.\nMore later."]),
    ],
)
def test_stream_format_is_sniffed(content, expected_texts):
    articles, errors = split(load_stream(io.StringIO(content)))
    assert errors == [] and [a.text for a in articles] == expected_texts


def test_stream_with_explicit_format_and_distinct_keys():
    [article] = load_stream(io.StringIO("title,text\nT,Body."), name="<stdin>", fmt="txt")
    assert article.text == "title,text\nT,Body." and article.source == "<stdin>"
    first, second = (next(load_stream(io.StringIO(t))) for t in ("One story.", "Another story."))
    assert first.doc_id != second.doc_id  # piped articles must not replace one another
    [error] = load_stream(io.StringIO(""))
    assert error.source == "<stdin>" and "empty" in error.problem


def test_load_bytes_picks_format_by_extension():
    [article] = load_bytes(b'{"text": "Uploaded."}\n', "upload.JSONL")
    assert article.text == "Uploaded." and article.source == "upload.JSONL#line=1"
    [error] = load_bytes(b"data", "sheet.xlsx")
    assert error.source == "sheet.xlsx" and all(s in error.problem for s in SUPPORTED_SUFFIXES)


def test_parse_date_forms():
    forms = ["2017-12-31", "2017-12-31T23:30:00-05:00", "2017-12-31T10:00:00Z", "2017/12/31", "December 31, 2017",
             "Dec 31, 2017", "31-Dec-17", "31 December 2017", "Sun, 31 Dec 2017 10:00:00 GMT"]
    assert {parse_date(form) for form in forms} == {"2017-12-31"}
    assert parse_date("https://example.com") is None and parse_date("") is None and parse_date(None) is None


# --- CSV quoting: a multi-line article body is one field; an unterminated quote is one bad row -------------


def test_csv_multiline_quoted_body_stays_one_article(tmp_path):
    body = "First paragraph, with a comma.\n\nSecond, with, commas\nThird,2017-01-02\r\nLast line."
    last = "Para one.\nOne,Two,2017-01-03\nPara three."  # a line shaped like a whole row, inside quotes
    path = write(tmp_path / "multi.csv", f'title,text,date\nA,"{body}",2017-01-01\nB,"{last}",2017-01-02\n')
    articles, errors = split(load_paths([path]))
    assert errors == [] and [a.text for a in articles] == [body, last]
    assert [a.published for a in articles] == ["2017-01-01", "2017-01-02"]


def test_csv_unterminated_quote_is_reported_and_the_rows_it_swallowed_load(tmp_path):
    path = write(
        tmp_path / "broken.csv",
        "title,text,date\n"
        "One,First story.,2017-01-01\n"
        'Two,"Second story, its quote never closed,2017-01-02\n'
        "Three,Third story.,2017-01-03\n"
        'Four,"Fourth story,\nover two lines.",2017-01-04\n'
        'Five,"Fifth story.",2017-01-05\n',
    )
    articles, errors = split(load_paths([path]))
    assert [a.title for a in articles] == ["One", "Three", "Four", "Five"]
    assert articles[1].text == "Third story." and articles[1].published == "2017-01-03"
    assert articles[2].text == "Fourth story,\nover two lines." and articles[2].source == f"{path}#row=4"
    assert len(errors) == 1 and errors[0].source == str(path)
    assert errors[0].problem.startswith("row 2:") and "quote" in errors[0].problem


def test_csv_unterminated_quote_running_to_the_end_of_the_file(tmp_path):
    path = write(
        tmp_path / "eof.csv",
        "title,date,text\n"
        "One,2017-01-01,First story.\n"
        'Two,2017-01-02,"Second story never closed\n'
        "Second story goes on\n"  # still the broken row's text, not a row of its own
        "Three,2017-01-03,Third story.\n"
        "Four,2017-01-04,Fourth story.\n",
    )
    articles, errors = split(load_paths([path]))
    assert [(a.title, a.text, a.published) for a in articles] == [
        ("One", "First story.", "2017-01-01"), ("Three", "Third story.", "2017-01-03"), ("Four", "Fourth story.", "2017-01-04")]
    assert [a.source for a in articles][1:] == [f"{path}#row=3", f"{path}#row=4"]
    assert len(errors) == 1 and "row 2:" in str(errors[0]) and str(path) in str(errors[0])


# --- Deep nesting: one bad record, never the rest of the file ---------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


def test_deeply_nested_jsonl_line_is_one_error_and_later_lines_load(tmp_path):
    path = write(tmp_path / "deep.jsonl", f'{{"text": "First."}}\n{DEEP}\n{{"text": "Third."}}\n')
    articles, errors = split(load_paths([path]))
    assert [a.text for a in articles] == ["First.", "Third."]
    assert len(errors) == 1 and errors[0].problem.startswith("line 2:") and "nested" in errors[0].problem


def test_deeply_nested_json_file_is_one_error_naming_the_file(tmp_path):
    path = write(tmp_path / "deep.json", '[{"text": "First.", "extra": ' + DEEP + "}]")
    [error] = load_paths([path])
    assert isinstance(error, LoadError) and error.source == str(path) and "nested" in error.problem


def test_nested_values_in_records_do_not_crash(tmp_path):
    nested = [[[["deep"]]]] * 3
    for _ in range(600):  # deep enough that str() of it would hit the recursion limit
        nested = [nested]
    records = [
        {"text": "Plain.", "title": ["Part", ["one"]], "author": [{"name": "A. Writer"}, "B. Writer"], "date": {"y": 2017}},
        {"text": {"en": "An object, not text."}},
        {"text": "Kept.", "subject": nested},
    ]
    path = write(tmp_path / "nested.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    articles, errors = split(load_paths([path]))
    assert [a.text for a in articles] == ["Plain.", "Kept."]
    assert articles[0].author == "B. Writer" and articles[0].published is None and articles[1].subject is None
    assert len(errors) == 1 and errors[0].problem.startswith("line 2:")
    csv_path = write(tmp_path / "nested.csv", f"title,text\nDeep,{'[' * 100_000}\nNext,Fine.\n")
    articles, errors = split(load_paths([csv_path]))
    assert errors == [] and [a.title for a in articles] == ["Deep", "Next"]


# --- One file, one identity, whatever the spelling of its path --------------------------------------------------


def test_one_file_under_several_spellings_is_one_document(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "dir" / "a.txt", "A story.")
    write(tmp_path / "dir" / "b.csv", "title,text\nHeadline,Row story.\nUntitled row,\n")
    write(tmp_path / "dir" / "c.jsonl", '{"text": "Line story."}\n')
    real = (tmp_path / "dir").resolve()
    for name, source, key in [("a.txt", "dir/a.txt", f"{real}/a.txt"), ("b.csv", "dir/b.csv#row=1", f"{real}/b.csv#Headline"),
                              ("c.jsonl", "dir/c.jsonl#line=1", f"{real}/c.jsonl#line=1")]:
        spellings = [f"dir/{name}", f"./dir/{name}", f"dir/../dir/{name}", f"dir//{name}", tmp_path / "dir" / name]
        loaded = [next(iter(load_paths([spelling]))) for spelling in spellings]
        assert {a.key for a in loaded} == {key} and len({a.doc_id for a in loaded}) == 1
        assert [a.source for a in loaded][:4] == [source] * 4
    walked = [[a.doc_id for a in split(load_paths([d]))[0]] for d in ("dir", "./dir/", "dir/../dir", tmp_path / "dir")]
    assert len(walked[0]) == 3 and all(ids == walked[0] for ids in walked)
    assert [e.source for e in split(load_paths(["./dir/../dir/b.csv"]))[1]] == ["dir/b.csv"]


# --- A publisher name is the source; a URL is the identity -----------------------------------------------------


def test_non_url_source_is_kept_as_the_source(tmp_path):
    lines = [
        {"title": "Mill closes", "text": "The mill closed.", "source": "Oldham Gazette"},
        {"title": "Rates rise", "text": "Rates rose.", "source": "https://n.example/rates"},
        {"title": "Fair opens", "text": "The fair opened.", "url": "https://n.example/fair", "publisher": "Leigh Journal"},
        {"text": "No title here.", "Outlet": "Bury Times"},
    ]
    path = write(tmp_path / "feed.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n")
    mill, rates, fair, untitled = load_paths([path])
    assert (mill.source, mill.key) == ("Oldham Gazette", f"{path}#Mill closes")
    assert rates.source == rates.key == "https://n.example/rates"
    assert (fair.source, fair.key) == ("Leigh Journal", "https://n.example/fair")
    assert (untitled.source, untitled.key) == ("Bury Times", f"{path}#line=4")
    [row] = load_paths([write(tmp_path / "feed.csv", "title,text,source_name\nMill,The mill closed.,Oldham Gazette\n")])
    assert row.source == "Oldham Gazette"


def test_csv_neighbouring_unterminated_quotes_are_each_reported(tmp_path):
    rows = [f'T{i},"Story {i} never closed,2017-01-0{i}' if i in (2, 3) else f"T{i},Story {i}.,2017-01-0{i}" for i in range(1, 6)]
    path = write(tmp_path / "pairs.csv", "title,text,date\n" + "\n".join(rows) + "\n")
    articles, errors = split(load_paths([path]))
    assert [(a.title, a.text) for a in articles] == [("T1", "Story 1."), ("T4", "Story 4."), ("T5", "Story 5.")]
    assert [e.problem[:6] for e in errors] == ["row 2:", "row 3:"]
