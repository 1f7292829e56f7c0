"""`GET /api/health`: is the server answering, and do its two indexes agree. A probe (a load balancer,
`app.py` commands beside a server) needs it apart from the documents it counts."""

from typing import Any

from fastapi import APIRouter

from assistant import services
from assistant.web.deps import EngineDep
from assistant.web.errors import API_ERRORS

router = APIRouter(prefix="/api", tags=["api"], responses=API_ERRORS)


@router.get("/health")
def get_health(engine: EngineDep, full: bool = False) -> dict[str, Any]:
    """Document and passage counts and whether the vector index matches the catalog (`index`; by count,
    or with `full=true` id by id), and which catalog and vector backends this replica uses (`backends`); 503
    when either cannot be reached. A load balancer can use it as the readiness probe."""
    return services.health(engine, full)
