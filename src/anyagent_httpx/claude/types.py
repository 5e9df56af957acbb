"""claude-agent-sdk's ``claude_agent_sdk.types`` names (``from anyagent_httpx.claude.types import ...``)."""

from __future__ import annotations

from ._types import *  # noqa: F403
from ._types import __all__ as __all__
