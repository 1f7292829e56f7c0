"""The chat page's `/chat` endpoint through `gradio_client`, against a real uvicorn server."""

import pytest
from gradio_client import Client

from assistant.web.app import build_app
from tests.support import EXPECTED, QUESTION, LiveServer


def text_of(message: dict) -> str:
    content = message["content"]
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


@pytest.fixture
def client(server):
    client = Client(server.url + "/", verbose=False)
    yield client
    client.close()


def test_chat_endpoint_answers_with_sources(client):
    assert "/chat" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    textbox, messages, sources = client.predict(QUESTION, [], api_name="/chat")
    assert textbox == ""
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert text_of(messages[0]) == QUESTION
    answer = text_of(messages[1])
    assert EXPECTED in answer and "[1]" in answer and "answered in" in answer
    assert 'class="newsqa-card"' in sources and "<mark>" in sources


def test_follow_up_goes_through_the_history(client):
    _, messages, _ = client.predict("Who is Talal Selo?", [], api_name="/chat")
    _, messages, _ = client.predict("What did he say about the final battle?", messages, api_name="/chat")
    assert len(messages) == 4
    assert "searched for" in text_of(messages[3]) and "Selo" in text_of(messages[3])


def test_with_api_keys_the_client_must_log_in(app):
    guarded = build_app(app.state.settings.model_copy(update={"api_keys": ["chat-key"]}), engine=app.state.engine)
    with LiveServer(guarded) as server:
        with pytest.raises(Exception):
            Client(server.url + "/", verbose=False)
        client = Client(server.url + "/", auth=("anyone", "chat-key"), verbose=False)
        _, messages, _ = client.predict(QUESTION, [], api_name="/chat")
        client.close()
        assert EXPECTED in text_of(messages[-1])
