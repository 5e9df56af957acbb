"""The PostgreSQL session store (needs the ``postgres`` extra: ``pip install 'anyagent[postgres]'``).
Importing this module does not import psycopg; opening a store does."""

from __future__ import annotations

from ._sessions._postgres import SCHEMA_VERSION, PostgresStore

__all__ = ["SCHEMA_VERSION", "PostgresStore"]
