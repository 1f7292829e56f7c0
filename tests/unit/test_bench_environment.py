"""The command a benchmark records is the one that reproduces it: its NEWSQA_ settings included."""

import sys

from bench import environment


def test_the_recorded_command_carries_the_settings_but_no_secret(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["bench/eval.py", "squad2", "--quiet"])
    monkeypatch.setenv("NEWSQA_ANSWER_MODE", "extractive")
    monkeypatch.setenv("NEWSQA_OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("NEWSQA_DATABASE_URL", "postgresql://u:pw@h/db")
    command = environment.command_line()
    assert "NEWSQA_ANSWER_MODE=extractive " in command and command.endswith("squad2 --quiet")
    assert "sk-secret" not in command and "pw@" not in command
