"""The durable driver: the ``Driver`` with each model request and each tool call a DBOS step.

A step's result is checkpointed in the DBOS system database when it completes. When a workflow
is recovered, DBOS runs it again from the start, and every step that had completed returns its
recorded result instead of running: the model's answer (the decoded ``AssistantMessage``, or the
failure the retry rules judged, with the clock and jitter they were given) and the tool result.
The loop is pure, so fed the same results it hands out the same actions, and the run goes on
from where it stopped.

A tool call a crash cut off runs again only if the tool says it may (``Tool.idempotent`` or
``read_only``); for any other tool a marker step is recorded before the call, and a recovered
run that finds the marker without the call's result gives the model an error result saying the
call was interrupted (it may or may not have taken effect) instead of running it twice.
"""

from __future__ import annotations

import pickle
from collections.abc import AsyncGenerator
from contextlib import aclosing

import anyio
import attrs
from dbos import DBOS

from anyagent_core import (
    AgentLoop,
    AssistantMessage,
    Failure,
    MessageComplete,
    RunMessage,
    SendRequest,
    ToolResultBlock,
    ToolUseBlock,
)
from anyagent_core.json import JSONObject
from anyagent_core.value import Value
from anyagent_core.wire import redact_url
from anyagent_httpx._attempt import AttemptFailed, Received, perform
from anyagent_httpx._context import discover_window
from anyagent_httpx._driver import Driver, _Failure, _failure_kind
from anyagent_httpx._errors import APIError
from anyagent_httpx._logging import Scrubber, scrub_error
from anyagent_httpx._observe import AttemptInfo

__all__ = ["INTERRUPTED_CALL", "DurableDriver"]

REQUEST_STEP = "anyagent.request"
TOOL_STEP = "anyagent.tool"
TOOL_BEGIN_STEP = "anyagent.tool_begin"
WINDOW_STEP = "anyagent.context_window"

INTERRUPTED_CALL = (
    "The call of {name} was interrupted: the worker running it stopped before it finished. It was not "
    "run again, because the tool is not marked safe to repeat; it may or may not have taken effect. "
    "Check before calling it again."
)
"""The error result a recovered run gives for a call of a tool not safe to repeat that a crash cut off."""


@attrs.frozen(repr=False, eq=False)
class Outcome(Value):
    """What one request attempt came to, as checkpointed: the answer, or the failure the loop
    judges (with the clock and jitter it was given, so a replay decides the same), its error,
    headers and error text scrubbed of the endpoints' secrets."""

    message: AssistantMessage | None = None
    status: int | None = None
    error: APIError | None = None
    kind: Failure | None = None
    headers: tuple[tuple[str, str], ...] = ()
    error_text: tuple[object, ...] = ()
    retryable: bool = True
    now: float = 0.0
    random: float = 0.0
    seconds: float = 0.0


def _portable(error: APIError, scrubber: Scrubber) -> APIError:
    """``error`` scrubbed of the endpoints' secrets (a server may echo the key back; the step's
    result is written to the system database), if it survives pickling (how DBOS records step
    results), else an ``APIError`` with its message and URL."""
    scrub_error(error, scrubber)
    try:
        copy = pickle.loads(pickle.dumps(error))
    except Exception:
        return APIError(str(error), url=error.url)
    if not isinstance(copy, APIError):
        return APIError(str(error), url=error.url)
    return error


async def _step_id() -> int:
    step = DBOS.step_id
    assert step is not None, "a durable run's step ran outside a DBOS workflow"
    return step


class DurableDriver(Driver):
    """A ``Driver`` whose requests and tool calls are DBOS steps (inside a DBOS workflow).

    ``recorded`` holds the ids of the workflow's steps that had completed when this execution
    began (empty on a first run); it tells a call a crash cut off from one never begun."""

    recorded: frozenset[int] = frozenset()

    async def _request(self, loop: AgentLoop, action: SendRequest, failure: _Failure) -> AsyncGenerator[RunMessage]:
        observer = self._observer
        observer.attempt_started(action, redact_url(self.endpoints[action.endpoint].base_url))
        outcome: Outcome = await DBOS.run_step_async({"name": REQUEST_STEP}, self._attempt, action)
        self.api_seconds += outcome.seconds
        message = outcome.message
        observer.attempt_ended(
            action,
            AttemptInfo(
                status=outcome.status or None,
                usage=message.usage if message is not None else None,
                finish_reason=message.stop_reason if message is not None else None,
                error=outcome.error,
                seconds=outcome.seconds,
                message=message,
            ),
        )
        if message is not None:
            loop.receive_response(message)
        else:
            assert outcome.error is not None and outcome.kind is not None
            failure.error = outcome.error
            if outcome.retryable:
                loop.request_failed(
                    outcome.kind,
                    status=outcome.status,
                    headers=outcome.headers,
                    error_text=outcome.error_text,
                    message=str(outcome.error),
                    now=outcome.now,
                    random=outcome.random,
                )
            else:
                loop.request_failed(outcome.kind, message=str(outcome.error), retryable=False)
        partials: tuple[RunMessage, ...] = ()  # an async generator, as the driver's: none are streamed
        for partial in partials:
            yield partial

    async def _attempt(self, action: SendRequest) -> Outcome:
        """One attempt (the step's body): the answer or the failure, never raised."""
        received = Received(url="")
        begun = anyio.current_time()
        complete: MessageComplete | None = None
        try:
            events = perform(
                action.turn,
                transport=self.transport,
                endpoint=self.endpoints[action.endpoint],
                config=self.config,
                limits=self._limits,
                guard=self._guard,
                received=received,
                partial=False,
            )
            async with aclosing(events) as items:
                async for item in items:
                    if type(item) is MessageComplete:
                        complete = item
        except AttemptFailed as failed:
            scrubber = self.scrubber()
            return Outcome(
                status=failed.status,
                error=_portable(failed.error, scrubber),
                kind=failed.kind,
                headers=tuple((name, scrubber(value)) for name, value in failed.headers),
                error_text=tuple(scrubber(text) if isinstance(text, str) else text for text in failed.error_text),
                now=self._clock(),
                random=self._random(),
                seconds=anyio.current_time() - begun,
            )
        except APIError as exc:
            return Outcome(
                status=received.status or None,
                error=_portable(exc, self.scrubber()),
                kind=_failure_kind(exc),
                retryable=False,
                seconds=anyio.current_time() - begun,
            )
        assert complete is not None
        return Outcome(message=complete.message, status=received.status, seconds=anyio.current_time() - begun)

    async def discover(self, loop: AgentLoop, action: SendRequest | None = None) -> bool:
        """The window of the endpoint ``action`` goes to, asked once per run and endpoint and
        checkpointed (a replay tells the loop the same)."""
        number = 0 if action is None else action.endpoint
        self._probed.add(number)
        model = loop.settings.template.model if action is None else action.turn.model
        found = await DBOS.run_step_async(
            {"name": WINDOW_STEP}, discover_window, self.transport, self.endpoints[number], model, config=self.config
        )
        if found.tokens is None:
            loop.context_window_found(None, note=found.note())
            return False
        return loop.context_window_found(found.tokens, source="server", note=found.note())

    async def _perform_call(self, loop: AgentLoop, call: ToolUseBlock) -> tuple[ToolResultBlock, JSONObject]:
        found = self.toolbox.tools.get(call.name)
        repeatable = found is None or found.idempotent or found.read_only
        if not repeatable:
            marker: int = await DBOS.run_step_async({"name": TOOL_BEGIN_STEP}, _step_id)
            if marker in self.recorded and marker + 1 not in self.recorded:
                return await DBOS.run_step_async({"name": TOOL_STEP}, _interrupted, call)
        parent = super()._perform_call
        return await DBOS.run_step_async({"name": TOOL_STEP}, parent, loop, call)


async def _interrupted(call: ToolUseBlock) -> tuple[ToolResultBlock, JSONObject]:
    content = INTERRUPTED_CALL.format(name=call.name)
    return ToolResultBlock(tool_use_id=call.id, content=content, is_error=True), call.input
