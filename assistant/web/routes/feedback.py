"""`POST /api/feedback`: a thumbs up or down on an answer, stored by `assistant.feedback` (the chat
page's like buttons write to the same place: `data_dir/feedback.jsonl`, or the PostgreSQL catalog)."""

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from assistant import feedback
from assistant.web.deps import EngineDep, SettingsDep
from assistant.web.errors import API_ERRORS

router = APIRouter(prefix="/api", tags=["api"], responses=API_ERRORS)


class FeedbackIn(BaseModel):
    question: str = Field(min_length=1, max_length=10_000)
    answer: str = Field(max_length=100_000)
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=feedback.MAX_COMMENT_CHARS)


@router.post("/feedback", status_code=201)
def post_feedback(body: FeedbackIn, settings: SettingsDep, engine: EngineDep) -> dict[str, Any]:
    """Store a thumbs up/down for an answer (in `data_dir/feedback.jsonl`, or the shared PostgreSQL catalog)."""
    store = feedback.store_for(settings.data_dir, engine.index)
    return feedback.record(store, body.question, body.answer, body.rating, body.comment, via="api")
