"""The articles the server holds: `GET/POST /api/documents`, `GET/DELETE /api/documents/{id}` and
`POST /api/articles` (articles already read from files, sent by `app.py ingest` beside a server).

The work is in `assistant.services`, which the chat page's Documents tab calls too, so both go
through exactly the same checks.
"""

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from assistant import services
from assistant.web.deps import EngineDep, SettingsDep
from assistant.web.errors import API_ERRORS, NOT_FOUND
from index.documents import Article
from index.loaders import SUPPORTED_SUFFIXES

router = APIRouter(prefix="/api", tags=["api"], responses=API_ERRORS)


class ArticleIn(BaseModel):
    """An article already read from a file by `app.py ingest` on this machine (see assistant/remote.py)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    title: str
    source: str
    published: date | None = Field(None, description="ISO date the article was published.")
    author: str | None = None
    subject: str | None = None
    key: str | None = Field(None, description="Identity across versions (URL, or file plus record); defaults to source.")

    def article(self) -> Article:
        """The index's article, the date as an ISO string."""
        values = self.model_dump()
        values["published"] = self.published.isoformat() if self.published else None
        return Article(**values)


class ArticlesIn(BaseModel):
    articles: list[ArticleIn] = Field(min_length=1, max_length=1000)


@router.get("/documents")
def list_documents(engine: EngineDep) -> list[dict[str, Any]]:
    """Every indexed article with its passage count."""
    return services.list_documents(engine)


@router.get("/documents/{doc_id}", responses=NOT_FOUND)
def get_document(doc_id: str, engine: EngineDep) -> dict[str, Any]:
    """One article with its full `text` (citation offsets index into it)."""
    return services.get_document(engine, doc_id)


@router.post("/documents")
def upload_documents(
    files: Annotated[list[UploadFile], File(description=f"One or more files: {', '.join(SUPPORTED_SUFFIXES)}")],
    engine: EngineDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Ingest uploaded files. Per-file errors are listed in `errors`; the good files are ingested."""
    contents = [(Path(f.filename or "upload").name, f.file.read()) for f in files]
    return services.upload_files(engine, contents, int(settings.max_upload_mb * 2**20))


@router.post("/articles")
def add_articles(body: ArticlesIn, engine: EngineDep) -> dict[str, Any]:
    """Ingest articles sent as JSON; `app.py ingest` uses this while a server holds its data directory."""
    return services.add_articles(engine, [article.article() for article in body.articles])


@router.delete("/documents/{doc_id}", responses=NOT_FOUND)
def remove_document(doc_id: str, engine: EngineDep) -> dict[str, str]:
    services.delete_document(engine, doc_id)
    return {"deleted": doc_id}
