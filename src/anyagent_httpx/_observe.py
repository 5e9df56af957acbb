"""The observer seam: what a run does, told as it happens, to whoever wants to know.

The driver calls every observer in ``AgentOptions.observers`` at fixed points of a run; tracing
(spans per run, request and tool), progress displays and metrics plug in here without touching
the loop or the driver. ``Observer``'s methods do nothing: subclass it and override what you
need. They are called in the task that drives the run, must not block, and should not raise
(an exception from an observer propagates and ends the run, like one from a hook).

One observer may watch several runs at once (the same ``AgentOptions`` in several clients, a
run's subagents): ``run_started`` may return the observer that hears the rest of that run, so
what a run does is never confused with what another does. Tracing does this
(``anyagent_httpx.telemetry.OpenTelemetryObserver``). Returning None keeps this one.

::

    class Printer(Observer):
        def tool_started(self, call: ToolUseBlock) -> None:
            print("running", call.name)

    options = AgentOptions(observers=[Printer()])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from anyagent_core import AssistantMessage, ResultMessage, SendRequest, ToolResultBlock, ToolUseBlock, Usage, Wait
from anyagent_core.value import Value

__all__ = ["AttemptInfo", "Observer", "RunInfo", "observers"]


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RunInfo(Value):
    """What a run starts with."""

    model: str
    base_url: str
    """With credentials removed."""
    session_id: str
    agent: str | None = None
    """The subagent running (None for the main agent)."""
    tools: tuple[str, ...] = ()
    provider: str | None = None
    """``AgentOptions.provider`` (``ollama``, ``openai``, ...), if one was named."""
    scrub: Callable[[str], str] = attrs.field(default=str, repr=False, eq=False)
    """Removes the client's credentials (API key, header values, URL credentials) from a text:
    apply it to error messages before they leave the process."""


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AttemptInfo(Value):
    """How one request attempt ended."""

    status: int | None
    """The HTTP status (None when no response head arrived)."""
    usage: Usage | None = None
    finish_reason: str | None = None
    error: BaseException | None = None
    """What failed, if the attempt did (``APIError``, or ``Interrupted``)."""
    seconds: float = 0.0
    message: AssistantMessage | None = None
    """The answer (its first choice), when one arrived: its ``model`` and ``id`` are the
    server's."""


class Observer:
    """Hooks into a run's progress; every method is a no-op here."""

    def run_started(self, run: RunInfo) -> Observer | None:
        """A response begins (``receive_response()``). Return an observer to hear the rest of
        this run in this one's place (every call below, ``run_ended`` included), or None."""
        return None

    def run_ended(self, result: ResultMessage | None, error: BaseException | None) -> None:
        """The response ended, with its result, or with the error that stopped it."""

    def attempt_started(self, request: SendRequest, url: str) -> None:
        """A request attempt goes out (``request.attempt`` counts retries, ``request.side``
        marks a side request)."""

    def attempt_ended(self, request: SendRequest, info: AttemptInfo) -> None:
        """The attempt ended: answered, failed or interrupted."""

    def retry(self, wait: Wait, error: BaseException | None) -> None:
        """The loop decided to try again after ``wait.seconds`` (perhaps with a fallback model)."""

    def tool_started(self, call: ToolUseBlock) -> None:
        """An approved call starts running (hooks included)."""

    def tool_ended(self, call: ToolUseBlock, result: ToolResultBlock, seconds: float) -> None:
        """The call ended with ``result``."""

    def tool_failed(self, call: ToolUseBlock, error: BaseException, seconds: float) -> None:
        """The call ended without a result: a hook raised, or the run was interrupted or
        cancelled while it ran. After ``tool_started``, one of ``tool_ended`` and
        ``tool_failed`` is always called, in the same task."""

    def compaction(self, data: Mapping[str, Any]) -> None:
        """Older messages were left out of a request (what the ``compact`` system message says)."""


class _All(Observer):
    """Several observers as one, called in order."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self._observers = tuple(observers)

    def run_started(self, run: RunInfo) -> Observer | None:
        bound = [observer.run_started(run) for observer in self._observers]
        if all(item is None for item in bound):
            return None
        pairs = zip(bound, self._observers, strict=True)
        return _All([item if item is not None else observer for item, observer in pairs])

    def run_ended(self, result: ResultMessage | None, error: BaseException | None) -> None:
        for observer in self._observers:
            observer.run_ended(result, error)

    def attempt_started(self, request: SendRequest, url: str) -> None:
        for observer in self._observers:
            observer.attempt_started(request, url)

    def attempt_ended(self, request: SendRequest, info: AttemptInfo) -> None:
        for observer in self._observers:
            observer.attempt_ended(request, info)

    def retry(self, wait: Wait, error: BaseException | None) -> None:
        for observer in self._observers:
            observer.retry(wait, error)

    def tool_started(self, call: ToolUseBlock) -> None:
        for observer in self._observers:
            observer.tool_started(call)

    def tool_ended(self, call: ToolUseBlock, result: ToolResultBlock, seconds: float) -> None:
        for observer in self._observers:
            observer.tool_ended(call, result, seconds)

    def tool_failed(self, call: ToolUseBlock, error: BaseException, seconds: float) -> None:
        for observer in self._observers:
            observer.tool_failed(call, error, seconds)

    def compaction(self, data: Mapping[str, Any]) -> None:
        for observer in self._observers:
            observer.compaction(data)


_NONE = Observer()


def observers(items: Sequence[Observer]) -> Observer:
    """One observer for ``items`` (the no-op one when there are none)."""
    if not items:
        return _NONE
    if len(items) == 1:
        return items[0]
    return _All(items)
