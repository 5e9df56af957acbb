"""Tracing: ``OpenTelemetryObserver`` (``_otel.py``) makes GenAI-convention spans from the
observer seam; ``_content.py`` puts messages in the conventions' shapes when content capture is
asked for. Nothing here imports ``opentelemetry`` until an observer is made. Logging lives in
``anyagent_httpx._logging``."""

from __future__ import annotations

from ._otel import CAPTURE_CONTENT_ENV, OpenTelemetryObserver, provider_name

__all__ = ["CAPTURE_CONTENT_ENV", "OpenTelemetryObserver", "provider_name"]
