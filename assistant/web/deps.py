"""What the route modules share, so that none imports another: the engine and settings as
dependencies (`Annotated` aliases, as in the FastAPI full-stack template), and the search filters
that both `/api/ask` and `/v1/chat/completions` accept."""

from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from assistant.engine import AnswerEngine
from core.settings import Settings, get_settings
from index.store import Filters


def get_engine(request: Request) -> AnswerEngine:
    """The engine built once by `build_app` (models are loaded there, not per request)."""
    return request.app.state.engine


EngineDep = Annotated[AnswerEngine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]  # build_app overrides get_settings with its own


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: list[str] | None = Field(None, description="Only articles whose source is one of these.")
    published_from: date | None = Field(None, description="Only articles published on or after this ISO date.")
    published_to: date | None = Field(None, description="Only articles published on or before this ISO date.")

    def to_filters(self) -> Filters:
        """The index's filters: dates as ISO strings, an empty source list as no filter."""
        return Filters(
            sources=self.sources or None,
            published_from=self.published_from.isoformat() if self.published_from else None,
            published_to=self.published_to.isoformat() if self.published_to else None,
        )
