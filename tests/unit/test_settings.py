from core.settings import Settings
from tests.support import ROOT


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in readme or f"`NEWSQA_{name.upper()}`" not in readme]
    assert missing == []


def test_environment_overrides_and_key_lists(monkeypatch):
    monkeypatch.setenv("NEWSQA_TOP_K", "7")
    monkeypatch.setenv("NEWSQA_API_KEYS", "one, two")
    settings = Settings(_env_file=None)
    assert settings.top_k == 7
    assert settings.api_keys == ["one", "two"]
    assert Settings(api_keys='["a"]', _env_file=None).api_keys == ["a"]


def test_defaults_are_offline(monkeypatch):
    monkeypatch.delenv("NEWSQA_ANSWER_MODE", raising=False)  # tests/conftest.py sets it for the other tests
    settings = Settings(_env_file=None)
    assert settings.answer_mode == "auto"  # the bundled reader where installed, else extractive: both local
    assert settings.reader_model.startswith("bundled:")
    assert settings.chroma_host is None
    assert settings.embedding_model.startswith("bundled:")
    assert settings.host == "127.0.0.1"
