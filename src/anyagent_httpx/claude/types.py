"""claude-agent-sdk's ``claude_agent_sdk.types`` names (``from anyagent_httpx.claude.types import ...``)."""

from __future__ import annotations

from ._hook_types import *  # noqa: F403
from ._hook_types import __all__ as _hook_names
from ._reported import *  # noqa: F403
from ._reported import __all__ as _reported_names
from ._sessions import SDKSessionInfo, SessionMessage
from ._store import (
    SessionKey,
    SessionListSubkeysKey,
    SessionStore,
    SessionStoreEntry,
    SessionStoreFlushMode,
    SessionStoreListEntry,
    SessionSummaryEntry,
)
from ._types import *  # noqa: F403
from ._types import __all__ as _type_names

__all__ = [
    *_type_names,
    *_hook_names,
    *_reported_names,
    "SDKSessionInfo",
    "SessionKey",
    "SessionListSubkeysKey",
    "SessionMessage",
    "SessionStore",
    "SessionStoreEntry",
    "SessionStoreFlushMode",
    "SessionStoreListEntry",
    "SessionSummaryEntry",
]
