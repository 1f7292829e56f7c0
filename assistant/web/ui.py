"""The chat page: a Gradio Blocks app with a Chat tab and a Documents tab, built by `build_ui`.

Chat: answers stream into a `gr.Chatbot` with inline [n] markers; under the chat, a source card per
citation shows the title, source, date and passage with the evidence sentence in a <mark>. Every piece
of article text (and the question) is passed through `html.escape` before it goes into HTML, so
nothing inside an article can run script. Thumbs up/down on an answer is stored by `assistant.feedback`.
The chat function is exposed to `gradio_client` as `/chat` (inputs: message, history).

Documents: upload files, list, delete by id, through `assistant.services`, as `/api/documents` does
(same checks, same lock).

`assistant.web.app` mounts the page at `/` with `theme()` and `CSS`. Each event handler is made by a
small `make_*` function closing over the engine and settings, so the layout functions only wire.
"""

import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr

from assistant import feedback, services
from assistant.answering.base import NOT_FOUND, Answer, Citation
from assistant.condense import with_short_answer
from assistant.engine import AnswerEngine
from core.errors import AssistantError
from core.settings import Settings
from index.loaders import SUPPORTED_SUFFIXES

EXAMPLES = ["Who brokered the deal?", "Who is Talal Selo?", "How many Syrian militants left in the convoy?"]
TABLE_HEADERS = ["doc_id", "title", "source", "published", "passages"]
LOCAL_FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"]  # no web-font download

CSS = """
.newsqa-ref { font-size: .75em; font-weight: 600; color: var(--color-accent); vertical-align: super; }
.newsqa-short { font-weight: 600; font-size: 1.05em; margin-bottom: .3em; }
.newsqa-meta { font-size: .75em; opacity: .65; margin-top: .35em; }
.newsqa-notfound { color: #92400e; background: #fef3c7; border-left: 4px solid #f59e0b;
                   padding: .35em .7em; border-radius: 4px; font-style: italic; }
.newsqa-error { color: #991b1b; background: #fee2e2; border-left: 4px solid #ef4444; padding: .35em .7em; border-radius: 4px; }
.newsqa-pending { opacity: .6; font-style: italic; }
.newsqa-sources h4 { margin: .2em 0 .4em; }
.newsqa-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6em .85em;
               margin: .5em 0; background: var(--background-fill-secondary); }
.newsqa-card-title { font-weight: 600; }
.newsqa-card-meta { font-size: .8em; opacity: .7; margin: .15em 0 .4em; word-break: break-all; }
.newsqa-passage { white-space: pre-wrap; line-height: 1.45; margin: 0; }
.newsqa-passage mark { background: #fde68a; color: inherit; padding: 0 .1em; border-radius: 2px; }
"""


# --- HTML (pure functions: every article string goes through esc) --------------------------------

def esc(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def answer_html(answer: Answer, pending: bool = False) -> str:
    """The chat bubble: answer with [n] markers, then a discreet timing and the rewritten question.
    `pending`: the reader's evidence, shown while the short answer is still being read out of it."""
    if answer.abstained:
        body = f'<div class="newsqa-notfound">{esc(NOT_FOUND)}</div>'
    else:
        text = esc(answer.answer).replace("\n", "<br>")
        body = re.sub(r"\[(\d+)\]", r'<span class="newsqa-ref">[\1]</span>', text)
        if pending:
            body = f'<div class="newsqa-pending">Reading the evidence…</div>{body}'
        elif answer.short_answer:
            body = f'<div class="newsqa-short">{esc(answer.short_answer)}</div>{body}'
    if pending:
        return f'{body}<div class="newsqa-meta">evidence in {answer.timings.get("evidence_ms", 0):.0f} ms</div>'
    meta = f"answered in {answer.timings.get('total_ms', 0):.0f} ms"
    if answer.standalone_question != answer.question:
        meta += f" · searched for “{esc(answer.standalone_question)}”"
    return f'{body}<div class="newsqa-meta">{meta}</div>'


def highlighted_passage(citation: Citation) -> str:
    """The passage, escaped, with the evidence sentence in <mark> (found by offset, else by search)."""
    passage, evidence = citation.passage, citation.evidence
    at = citation.start - citation.passage_start
    if not (0 <= at and passage[at : at + len(evidence)] == evidence):
        at = passage.find(evidence)
    if at < 0 or not evidence:
        return f"{esc(passage)}<br><mark>{esc(evidence)}</mark>"
    end = at + len(evidence)
    return f"{esc(passage[:at])}<mark>{esc(evidence)}</mark>{esc(passage[end:])}"


def card_html(citation: Citation) -> str:
    meta = " · ".join(esc(part) for part in (citation.source, citation.published) if part)
    return (
        f'<div class="newsqa-card" data-n="{int(citation.n)}">'
        f'<div class="newsqa-card-title">[{int(citation.n)}] {esc(citation.title)}</div>'
        f'<div class="newsqa-card-meta">{meta}</div>'
        f'<p class="newsqa-passage">{highlighted_passage(citation)}</p></div>'
    )


def sources_html(answer: Answer | None) -> str:
    if not answer:
        return ""
    if answer.abstained or not answer.citations:
        return f'<div class="newsqa-sources"><div class="newsqa-notfound">{esc(NOT_FOUND)}</div></div>'
    cards = "".join(card_html(c) for c in answer.citations)
    return f'<div class="newsqa-sources"><h4>Sources for “{esc(answer.question)}”</h4>{cards}</div>'


def plain_history(messages: list | None) -> list[dict]:
    """Chatbot messages (our HTML) back to plain {role, content} turns for the condenser."""
    turns = []
    for message in messages or []:
        content = message.get("content") if isinstance(message, dict) else getattr(message, "content", "")
        if isinstance(content, list):  # a message may arrive as a list of parts
            content = " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
        text = re.sub(r'<div class="newsqa-meta">.*?</div>', "", str(content or ""), flags=re.S)
        # The short answer goes back on its own `Short answer:` line, where the follow-up rewrite looks for it.
        short = re.search(r'<div class="newsqa-short">(.*?)</div>', text, flags=re.S)
        text = re.sub(r'<div class="newsqa-short">.*?</div>', "", text, flags=re.S)
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())
        if short:
            text = with_short_answer(text, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", short.group(1))).split()))
        role = message.get("role") if isinstance(message, dict) else getattr(message, "role", "user")
        turns.append({"role": role, "content": text})
    return turns


def table_rows(documents: list[dict]) -> dict:
    """The Documents table's value; the headers stay when there are no rows."""
    rows = [[d["doc_id"], d["title"], d["source"], d.get("published") or "", d.get("passages") or 0] for d in documents]
    return {"headers": TABLE_HEADERS, "data": rows}


def document_rows(engine: AnswerEngine) -> dict:
    """The table as it is now: after every upload or delete, and on load."""
    return table_rows(services.list_documents(engine))


# --- event handlers (closures over the engine and settings) -------------------------------------

def make_chat(engine: AnswerEngine) -> Callable[..., Iterator[tuple]]:
    def chat(message: str, history: list | None, answers: dict | None = None) -> Iterator[tuple]:
        """Stream an answer: yields (cleared textbox, chat messages, source cards, answers by message index)."""
        question = (message or "").strip()
        answers = dict(answers or {})
        messages = list(history or [])
        if not question:
            yield "", messages, gr.skip(), answers
            return
        prior = plain_history(messages)
        messages += [{"role": "user", "content": esc(question)},
                     {"role": "assistant", "content": '<span class="newsqa-pending">Searching the articles…</span>'}]
        yield "", messages, "", answers
        text = ""
        try:
            for event in engine.stream(question, prior or None):
                if event["event"] == "token":
                    text += event["text"]
                    messages[-1] = {"role": "assistant", "content": esc(text)}
                elif event["event"] == "evidence" and not event["answer"].abstained:
                    shown = event["answer"]
                    messages[-1] = {"role": "assistant", "content": answer_html(shown, pending=True)}
                    yield "", messages, sources_html(shown), answers
                    continue
                elif event["event"] == "answer":
                    answer = event["answer"]
                    messages[-1] = {"role": "assistant", "content": answer_html(answer)}
                    answers[len(messages) - 1] = answer
                    yield "", messages, sources_html(answer), answers
                    return
                yield "", messages, gr.skip(), answers
        except AssistantError as exc:
            messages[-1] = {"role": "assistant", "content": f'<div class="newsqa-error">{esc(exc)}</div>'}
            yield "", messages, "", answers

    return chat


def make_like(engine: AnswerEngine, settings: Settings) -> Callable[..., None]:
    store = feedback.store_for(settings.data_dir, engine.index)

    def like(answers: dict | None, data: gr.LikeData) -> None:
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        answer = (answers or {}).get(index)
        if answer is None or data.liked not in (True, False):  # a user message, or a like taken back
            return
        feedback.record(store, answer.question, answer.answer, "up" if data.liked else "down", via="chat",
                        citations=[{"doc_id": c.doc_id, "start": c.start, "end": c.end} for c in answer.citations])
        gr.Info("Thanks — your feedback was saved.")

    return like


def make_upload(engine: AnswerEngine, settings: Settings) -> Callable[..., tuple]:
    def upload(paths: list[str] | None, progress=gr.Progress()) -> tuple:
        if not paths:
            return status_html("Choose one or more files first.", error=True), document_rows(engine), gr.skip()
        files = [(Path(p).name, Path(p).read_bytes()) for p in paths]
        try:
            summary = services.upload_files(engine, files, int(settings.max_upload_mb * 2**20),
                                            on_file=lambda i, n, name: progress((i, n), desc=f"Reading {name}", unit="files"))
        except AssistantError as exc:
            return status_html(str(exc), error=True), document_rows(engine), gr.skip()
        line = (f"{summary['added']} added, {summary['replaced']} replaced, {summary['unchanged']} unchanged, "
                f"{summary['failed']} failed; {summary['passages']} passages in {summary['seconds']:.1f}s")
        return status_html(line, errors=summary["errors"]), document_rows(engine), None

    return upload


def make_delete(engine: AnswerEngine) -> Callable[[str], tuple]:
    def delete(doc_id: str) -> tuple:
        doc_id = (doc_id or "").strip()
        try:
            services.delete_document(engine, doc_id)
        except AssistantError as exc:
            return status_html(str(exc), error=True), document_rows(engine), doc_id
        return status_html(f"Deleted {doc_id}."), document_rows(engine), ""

    return delete


def status_html(line: str, errors: list[str] | None = None, error: bool = False) -> str:
    items = "".join(f"<li>{esc(e)}</li>" for e in errors or [])
    return f'<div class="{"newsqa-error" if error else ""}">{esc(line)}</div>' + (f"<ul>{items}</ul>" if items else "")


def pick_row(data: gr.SelectData) -> str:
    row = getattr(data, "row_value", None)
    return str(row[0]) if row else gr.skip()


# --- layout -------------------------------------------------------------------------------------

def chat_tab(engine: AnswerEngine, settings: Settings) -> None:
    answers = gr.State({})
    chatbot = gr.Chatbot(label="News QA", height=460, render_markdown=False, sanitize_html=True,
                         feedback_options=("Like", "Dislike"), elem_id="newsqa-chat",
                         placeholder="Ask a question about the loaded news articles.")
    with gr.Row():
        message = gr.Textbox(label="Question", placeholder="Ask about the articles…", show_label=False, scale=6, autofocus=True,
                             elem_id="newsqa-question", submit_btn=False)
        send = gr.Button("Ask", variant="primary", scale=1, elem_id="newsqa-ask")
    gr.Examples(EXAMPLES, inputs=message, label="Try")
    sources = gr.HTML(elem_id="newsqa-sources", js_on_load=None)
    chat = make_chat(engine)
    outputs = [message, chatbot, sources, answers]
    send.click(chat, [message, chatbot, answers], outputs, api_name="chat")
    message.submit(chat, [message, chatbot, answers], outputs, api_visibility="private")
    chatbot.clear(lambda: ("", {}), None, [sources, answers], api_visibility="private")
    chatbot.like(make_like(engine, settings), answers, None, api_visibility="private")


def documents_tab(engine: AnswerEngine, settings: Settings, demo: gr.Blocks) -> None:
    files = gr.File(label=f"Upload articles ({', '.join(SUPPORTED_SUFFIXES)}; up to {settings.max_upload_mb:g} MB)",
                    file_count="multiple", file_types=list(SUPPORTED_SUFFIXES), type="filepath", elem_id="newsqa-upload")
    upload = gr.Button("Add to the index", variant="primary")
    status = gr.HTML(js_on_load=None)
    table = gr.Dataframe(elem_id="newsqa-documents", headers=TABLE_HEADERS, datatype=["str", "str", "str", "str", "number"], interactive=False,
                         label="Loaded articles (select a row to pick its id)", wrap=True,
                         column_widths=["18%", "36%", "28%", "10%", "8%"])
    with gr.Row():
        doc_id = gr.Textbox(label="Document id", placeholder="select a row above or paste an id", scale=4)
        delete = gr.Button("Delete", variant="stop", scale=1)
        refresh = gr.Button("Refresh", scale=1)

    def rows() -> dict:
        return document_rows(engine)

    upload.click(make_upload(engine, settings), files, [status, table, files], api_visibility="private")
    delete.click(make_delete(engine), doc_id, [status, table, doc_id], api_visibility="private")
    refresh.click(rows, None, table, api_visibility="private")
    table.select(pick_row, None, doc_id, api_visibility="private")
    demo.load(rows, None, table, api_visibility="private")


def build_ui(engine: AnswerEngine, settings: Settings) -> gr.Blocks:
    with gr.Blocks(title="News QA — answers with citations", analytics_enabled=False) as demo:
        gr.Markdown("## News QA\nAnswers come only from the loaded articles, each sentence with its source.")
        with gr.Tab("Chat"):
            chat_tab(engine, settings)
        with gr.Tab("Documents"):
            documents_tab(engine, settings, demo)
    return demo


def theme() -> gr.themes.Base:
    return gr.themes.Soft(font=LOCAL_FONTS, font_mono=["ui-monospace", "monospace"])
