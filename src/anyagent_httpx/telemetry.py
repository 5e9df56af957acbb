"""Tracing and logging for anyagent runs.

``OpenTelemetryObserver`` makes OpenTelemetry spans following the GenAI semantic conventions
(``invoke_agent``, ``chat {model}``, ``execute_tool {name}``; retries and compactions as
events); it needs the ``otel`` extra (``pip install 'anyagent[otel]'``), imported only when an
observer is made::

    from anyagent_httpx import AgentOptions
    from anyagent_httpx.telemetry import OpenTelemetryObserver

    options = AgentOptions(observers=[OpenTelemetryObserver()])

Logs go to the ``anyagent`` logger and its children (``LOGGER``; what is logged where: see
docs/observability.md), scrubbed of the client's credentials (``scrub``).
"""

from __future__ import annotations

from ._logging import LOGGER, REDACTED, scrub
from ._telemetry import CAPTURE_CONTENT_ENV, OpenTelemetryObserver, provider_name

__all__ = ["CAPTURE_CONTENT_ENV", "LOGGER", "REDACTED", "OpenTelemetryObserver", "provider_name", "scrub"]
