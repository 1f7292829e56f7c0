"""The OpenAI-compatible API, through the official `openai` client against a real uvicorn server.

The server runs with an API key, so these tests also show that the client's `api_key` is accepted
as the Bearer key.
"""

import openai
import pytest
from openai import OpenAI

from assistant.web.app import build_app
from tests.support import EXPECTED, QUESTION, LiveServer, make_settings

KEY = "test-key-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = build_app(make_settings(tmp_path_factory.mktemp("openai-data"), api_keys=[KEY]))
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def client(server):
    return OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0, timeout=60)


def ask(client, content, **kwargs):
    return client.chat.completions.create(model="newsqa-extractive", messages=[{"role": "user", "content": content}], **kwargs)


def test_models_lists_one_model_named_for_the_mode(client):
    models = client.models.list().data
    assert [m.id for m in models] == ["newsqa-extractive"]


def test_chat_completion_has_sources_and_citations(client):
    response = ask(client, QUESTION)
    content = response.choices[0].message.content
    assert response.choices[0].finish_reason == "stop" and response.choices[0].message.role == "assistant"
    answer, _, sources = content.partition("\n\nSources:\n")
    assert EXPECTED in answer and "[1]" in answer and sources
    citations = response.citations  # the extra field rides along on the response object
    assert citations and citations[0]["n"] == 1
    for citation in citations:
        assert f"[{citation['n']}] {citation['title']} — {citation['source']}" in sources
        assert f"\"{citation['evidence']}\"" in sources
    short = response.newsqa["short_answer"]
    assert answer == f"Short answer: {short}\n\n{response.newsqa['answer']}" and response.newsqa["citations"] == citations


def test_streaming_gives_the_same_content_and_citations_on_the_last_chunk(client):
    chunks = list(ask(client, QUESTION, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content == ask(client, QUESTION).choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.citations and any(EXPECTED in c["evidence"] for c in last.citations)
    assert all(getattr(c, "citations", None) is None for c in chunks[:-1])


def test_earlier_messages_are_the_history(client):
    response = client.chat.completions.create(model="newsqa-extractive", messages=[
        {"role": "system", "content": "Answer from the articles."},
        {"role": "user", "content": "Who is Talal Selo?"},
        {"role": "assistant", "content": "SDF spokesman Talal Selo told Reuters... [1]"},
        {"role": "user", "content": [{"type": "text", "text": "What did he say about the final battle?"}]},
    ])
    assert response.newsqa["question"] == "What did he say about the final battle?"
    assert "Selo" in response.newsqa["standalone_question"]


def test_extra_body_fields_reach_the_engine(client):
    response = ask(client, QUESTION, extra_body={"filters": {"sources": ["https://example.com/nothing"]}})
    assert response.newsqa["abstained"] is True and response.citations == []
    assert "Sources:" not in response.choices[0].message.content


def test_requests_without_a_user_message_or_with_wrong_types_are_422(client):
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "system", "content": "hello"}])
    assert caught.value.body["type"] == "invalid_request_error" and "user" in caught.value.body["message"]
    for messages in ([], "Who brokered the deal?", [{"role": "user", "content": 42}], [{"role": "user", "content": ""}]):
        with pytest.raises(openai.UnprocessableEntityError):
            client.chat.completions.create(model="m", messages=messages)
    with pytest.raises(openai.UnprocessableEntityError):
        ask(client, QUESTION, stream=True, extra_body={"k": 0})


def test_a_wrong_key_is_refused(server):
    wrong = OpenAI(base_url=f"{server.url}/v1", api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert caught.value.body["type"] == "authentication_error"


class FallsOver:
    """An answerer that fails halfway through a stream with an error nobody planned for."""

    mode = "extractive"

    def stream(self, question, passages, question_vector):
        raise RuntimeError("the answerer fell over")
        yield  # a generator, like every answerer


def test_a_failure_midway_through_a_stream_reaches_the_client_as_an_error(server, tmp_path):
    from assistant.engine import AnswerEngine

    engine = AnswerEngine(server.app.state.engine.retriever, FallsOver())
    with LiveServer(build_app(make_settings(tmp_path / "data", api_keys=[KEY]), engine=engine)) as broken:
        client = OpenAI(base_url=f"{broken.url}/v1", api_key=KEY, max_retries=0, timeout=30)
        chunks = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in ask(client, QUESTION, stream=True):
                chunks.append(chunk)
    assert not isinstance(caught.value, openai.APIConnectionError)  # an answer from the server, not a cut connection
    assert caught.value.body["type"] == "server_error" and "server log" in caught.value.body["message"]
    assert chunks and chunks[0].choices[0].delta.role == "assistant"
