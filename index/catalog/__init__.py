"""The catalog (see `base.py`): SQLite by default, PostgreSQL when `database_url` names one."""

from pathlib import Path

from index.catalog.base import Catalog
from index.catalog.sqlite import SQLiteCatalog

SQLITE_NAME = "catalog.sqlite3"


def open_catalog(data_dir: Path, database_url: str | None = None, pool_size: int = 8) -> Catalog:
    """The PostgreSQL catalog at `database_url` when it is set, else the SQLite file in `data_dir`."""
    if database_url:
        from index.catalog.postgres import PostgresCatalog  # psycopg is needed only here

        return PostgresCatalog(database_url, pool_size=pool_size)
    return SQLiteCatalog(Path(data_dir) / SQLITE_NAME)


__all__ = ["Catalog", "SQLiteCatalog", "open_catalog"]
