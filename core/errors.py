"""Project exceptions. They carry a message a user can act on; the CLI and the API turn them
into exit codes and HTTP statuses at the edge."""


class AssistantError(Exception):
    """Base class: something the user can fix, with a message that says how."""

    status_code = 400


class BadInput(AssistantError):
    """A question, filter or upload that cannot be used as given."""

    status_code = 422


class LoadError(AssistantError):
    """One input file (or one record in it) could not be read as an article."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class TooLarge(AssistantError):
    status_code = 413


class NotFound(AssistantError):
    status_code = 404


class StoreUnavailable(AssistantError):
    """The Chroma server (or the data directory) cannot be reached."""

    status_code = 503


class DataDirBusy(AssistantError):
    """Another process holds this embedded data directory (see `index/owner.py`)."""

    status_code = 409

    def __init__(self, data_dir, holder):
        super().__init__(
            f"the data directory {data_dir} is in use by {holder.describe()}. Embedded Chroma is one process's "
            "store: stop that process, use another --data-dir, or share one index between processes through a "
            "Chroma server (NEWSQA_CHROMA_HOST)"
        )
        self.data_dir = data_dir
        self.holder = holder


class ConfigError(AssistantError):
    """A setting names something that does not exist (a backend, a model file)."""

    status_code = 500


class AnswerFailed(AssistantError):
    """The answer worker died (crashed, out of memory) while reading this question. It is not
    retried: a question that kills one worker would kill the next, and every request queued behind it."""

    status_code = 422


class AnswerTimeout(AssistantError):
    """No answer in time: the worker stuck on the question was replaced, or every worker stayed busy."""

    status_code = 503
