"""The chat page in a real browser (Debian's chromium through Playwright) against a real server.

Set NEWSQA_SCREENSHOT=docs/screenshot.png to refresh the README's screenshot; by default the
screenshot goes to the test's temporary directory. The HTML helpers get a few direct checks too.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from assistant import feedback
from assistant.web import ui
from assistant.answering.base import NOT_FOUND, Answer
from assistant.web.app import build_app
from tests.support import EXPECTED, QUESTION, LiveServer, make_settings

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
PAYLOAD = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
XSS_ARTICLE = (
    'Lantern festival <img src=x onerror="window.__xss=1"> returns to Quokka Bay\n'
    f"The Quokka Bay Lantern Festival was organised by Mayor Penelope Zarkov this year. {PAYLOAD}\n"
    "The lantern festival drew 40,000 visitors to the harbour on Saturday night.\n"
    "Zarkov said the lantern festival would return next spring."
)
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), "Debian's chromium is needed: apt-get install -y chromium (scripts/test.sh installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    page = context.new_page()
    page.goto(server.url + "/")
    yield page
    context.close()


def ask(page, question: str) -> None:
    box = page.get_by_placeholder("Ask about the articles…")
    box.fill(question)
    page.locator("#newsqa-ask").click()


def test_answer_shows_markers_timing_and_a_source_card_with_the_evidence(page, tmp_path):
    ask(page, QUESTION)
    chat = page.locator("#newsqa-chat")
    expect(chat).to_contain_text(EXPECTED, timeout=WAIT_MS)
    expect(chat).to_contain_text("[1]")
    expect(chat.locator(".newsqa-short")).to_contain_text("council and tribal elders")
    expect(chat.locator(".newsqa-meta")).to_contain_text("answered in")
    card = page.locator("#newsqa-sources .newsqa-card").first
    expect(card).to_be_visible(timeout=WAIT_MS)
    expect(card.locator(".newsqa-card-title")).to_contain_text("[1]")
    expect(card.locator(".newsqa-card-meta")).to_contain_text("raqqa_convoy.txt")
    marks = page.locator("#newsqa-sources mark")
    assert EXPECTED in " ".join(marks.all_inner_texts())
    page.mouse.move(0, 0)  # no hover colour on the button in the picture
    page.wait_for_timeout(300)  # let the card's layout settle
    target = Path(os.environ.get("NEWSQA_SCREENSHOT") or tmp_path / "screenshot.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000


def test_thumbs_up_is_saved_as_feedback(page, app):
    ask(page, QUESTION)
    expect(page.locator("#newsqa-chat")).to_contain_text(EXPECTED, timeout=WAIT_MS)
    before = len(feedback.read_all(feedback.store_for(app.state.settings.data_dir, app.state.engine.index)))
    page.locator("#newsqa-chat button[aria-label='Like']").last.click()
    expect(page.get_by_text("your feedback was saved")).to_be_visible(timeout=WAIT_MS)
    entries = feedback.read_all(feedback.store_for(app.state.settings.data_dir, app.state.engine.index))
    assert len(entries) == before + 1
    assert entries[-1]["rating"] == "up" and entries[-1]["question"] == QUESTION and entries[-1]["via"] == "chat"


def test_article_html_is_shown_as_text_and_never_runs(page, tmp_path, server):
    upload = tmp_path / "lantern.txt"
    upload.write_text(XSS_ARTICLE, encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#newsqa-upload input[type=file]").set_input_files(upload)
    page.get_by_role("button", name="Add to the index").click()
    expect(page.get_by_text("1 added")).to_be_visible(timeout=WAIT_MS)
    table = page.locator("#newsqa-documents")
    expect(table).to_contain_text("Lantern festival", timeout=WAIT_MS)

    page.get_by_role("tab", name="Chat").click()
    ask(page, "Who organised the Quokka Bay Lantern Festival?")
    card = page.locator("#newsqa-sources .newsqa-card").first
    expect(card).to_contain_text("Zarkov", timeout=WAIT_MS)
    expect(card).to_contain_text(PAYLOAD)  # the markup is visible as text...
    expect(card.locator(".newsqa-card-title")).to_contain_text('<img src=x onerror="window.__xss=1">')
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__xss") is None  # ...and never ran
    assert page.locator("#newsqa-sources script, #newsqa-sources img, #newsqa-chat img[src='x']").count() == 0

    page.get_by_role("tab", name="Documents").click()
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img[src='x']").count() == 0


def test_documents_tab_lists_and_deletes(page, app, tmp_path):
    upload = tmp_path / "notes.md"
    upload.write_text("# Zanthe port reopens\n\nThe port of Zanthe reopened on Monday after repairs.\n", encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#newsqa-upload input[type=file]").set_input_files(upload)
    page.get_by_role("button", name="Add to the index").click()
    expect(page.get_by_text("1 added")).to_be_visible(timeout=WAIT_MS)
    table = page.locator("#newsqa-documents")
    expect(table).to_contain_text("Zanthe port reopens")
    doc_id = next(d["doc_id"] for d in app.state.engine.index.documents() if d["title"] == "Zanthe port reopens")

    table.get_by_text("Zanthe port reopens").click()  # selecting a row picks its id
    expect(page.get_by_label("Document id")).to_have_value(doc_id, timeout=WAIT_MS)
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text(f"Deleted {doc_id}.")).to_be_visible(timeout=WAIT_MS)
    expect(table).not_to_contain_text("Zanthe port reopens")
    assert app.state.engine.index.document(doc_id) is None


def test_not_found_answer_is_styled_apart(browser, tmp_path):
    app = build_app(make_settings(tmp_path / "data", sample_path=tmp_path / "no-samples"))  # an empty index
    with LiveServer(app) as server:
        page = browser.new_page()
        page.goto(server.url + "/")
        page.get_by_placeholder("Ask about the articles…").fill(QUESTION)
        page.keyboard.press("Enter")
        not_found = page.locator("#newsqa-chat .newsqa-notfound")
        expect(not_found).to_have_text(NOT_FOUND, timeout=WAIT_MS)
        assert not_found.evaluate("e => getComputedStyle(e).fontStyle") == "italic"
        expect(page.locator("#newsqa-sources .newsqa-notfound")).to_be_visible()
        assert page.locator("#newsqa-sources .newsqa-card").count() == 0
        page.close()


# --- the HTML helpers ---------------------------------------------------------------------------

def contract(**changes) -> Answer:
    citation = {"n": 1, "doc_id": "d1", "title": "<b>Title</b>", "source": "a.txt", "published": "2017-10-15",
                "passage": "Before. <i>Evidence</i> here. After.", "passage_start": 100, "evidence": "<i>Evidence</i> here.",
                "start": 108, "end": 129}
    base = {"question": "Who <u>?</u>", "standalone_question": "Who <u>?</u>", "answer": "<i>Evidence</i> here. [1]",
            "short_answer": None, "abstained": False, "confidence": 0.9, "citations": [citation], "mode": "extractive",
            "timings": {"total_ms": 23.4}}
    return Answer.from_dict({**base, **changes})


def test_answer_html_escapes_and_marks_references():
    html = ui.answer_html(contract())
    assert "&lt;i&gt;Evidence&lt;/i&gt; here." in html and "<i>" not in html
    assert '<span class="newsqa-ref">[1]</span>' in html and "answered in 23 ms" in html
    assert "searched for" not in html
    rewritten = ui.answer_html(contract(standalone_question="Who is <Selo>?"))
    assert "searched for “Who is &lt;Selo&gt;?”" in rewritten


def test_short_answer_leads_the_bubble_escaped():
    html = ui.answer_html(contract(short_answer="<b>the council</b>"))
    assert html.startswith('<div class="newsqa-short">&lt;b&gt;the council&lt;/b&gt;</div>')
    assert "newsqa-short" not in ui.answer_html(contract())


def test_not_found_is_styled_apart():
    html = ui.answer_html(contract(abstained=True, citations=[], answer=NOT_FOUND))
    assert 'class="newsqa-notfound"' in html and "I couldn&#x27;t find that in the loaded articles." in html
    assert "newsqa-notfound" in ui.sources_html(contract(abstained=True, citations=[]))


def test_source_card_escapes_everything_and_marks_the_evidence():
    html = ui.sources_html(contract())
    assert "<mark>&lt;i&gt;Evidence&lt;/i&gt; here.</mark>" in html
    assert "&lt;b&gt;Title&lt;/b&gt;" in html and "<b>" not in html and "<i>" not in html
    assert "Before. <mark>" in html and "</mark> After." in html
    assert "a.txt · 2017-10-15" in html


def test_plain_history_strips_our_markup():
    messages = [{"role": "user", "content": "Who &lt;is&gt; Selo?"},
                {"role": "assistant", "content": [{"type": "text", "text": ui.answer_html(contract())}]}]
    assert ui.plain_history(messages) == [{"role": "user", "content": "Who <is> Selo?"},
                                          {"role": "assistant", "content": "<i>Evidence</i> here. [1]"}]
