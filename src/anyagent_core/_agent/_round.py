"""One tool round: an answer's calls, from planning until every call has exactly one result.

``plan_round`` sorts each call of an answer, in the model's order, into: answered at once (an
unusable call, an unknown tool, a call the rules deny, a repeated call the doom-loop check
refuses), handed to the caller (an external tool), to ask about, or approved to run. ``Round``
then holds what is still open; ``Round.cut`` answers the rest when the round is cut short.

The doom-loop check (``DoomWatch``, one per run) counts how many times in a row the model made
the same call (tool and arguments): one after another within an answer and across answers, and
also answer after answer when the model repeats the same *set* of calls (``[A, B]``,
``[A, B]``, ...), which a count of consecutive calls would never see. At ``doom_loop_threshold``
the repeated calls are not run and the model is told (``warn``), and at twice the threshold the
run stops with ``error_doom_loop`` (``stop``: at the threshold). Calls of tools that do not exist
and unusable calls count like any other; an answer whose calls could none of them run (unknown
tools, unusable arguments) twice the threshold times in a row also stops the run, whatever the
arguments, so a model that never calls a real tool cannot loop for ever.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping, Sequence

from anyagent_core._messages import ToolResultBlock, ToolUseBlock, ToolUseError
from anyagent_core.value import Record

from ._permissions import ToolTraits
from ._settings import LoopSettings, LoopTool

__all__ = ["DoomWatch", "Round", "error_result", "plan_round"]

Call = ToolUseBlock | ToolUseError


def error_result(call_id: str, text: str) -> ToolResultBlock:
    return ToolResultBlock(tool_use_id=call_id, content=text, is_error=True)


def _call_key(call: Call) -> tuple[str, str]:
    """What makes two calls the same for the doom-loop check (unusable ones included)."""
    if isinstance(call, ToolUseError):
        return call.name, "\0" + call.arguments
    return call.name, json.dumps(call.input, sort_keys=True, ensure_ascii=False)


class DoomWatch(Record):
    """The run's repeated-call counts (see the module docstring)."""

    __slots__ = ("futile", "in_a_row", "last", "repeats", "signature")

    def __init__(self) -> None:
        self.last: tuple[str, str] | None = None
        self.in_a_row = 0
        self.signature: tuple[tuple[str, str], ...] = ()
        self.repeats = 0
        self.futile = 0
        """Answers in a row whose calls could none of them run."""

    def observe(self, calls: Sequence[Call]) -> list[int]:
        """Count one answer's calls; returns, per call, how many times in a row it was made."""
        keys = [_call_key(call) for call in calls]
        signature = tuple(sorted(keys))
        self.repeats = self.repeats + 1 if signature == self.signature else 1
        self.signature = signature
        counts = []
        for key in keys:
            if key == self.last:
                self.in_a_row += 1
            else:
                self.last, self.in_a_row = key, 1
            counts.append(max(self.in_a_row, self.repeats))
        return counts


class Round(Record):
    """The tool round in progress."""

    __slots__ = ("approved", "asking", "calls", "external", "results", "running", "to_ask")

    def __init__(self, *, calls: list[Call] | None = None) -> None:
        self.calls: list[Call] = [] if calls is None else calls
        self.results: dict[str, ToolResultBlock] = {}
        self.to_ask: deque[tuple[ToolUseBlock, str, ToolTraits]] = deque()
        self.asking: ToolUseBlock | None = None
        self.approved: list[ToolUseBlock] = []
        self.running: set[str] = set()
        self.external: list[Call] = []

    @property
    def pending(self) -> tuple[Call, ...]:
        """External calls still waiting for a result."""
        return tuple(call for call in self.external if call.id not in self.results)

    def take_approved(self) -> tuple[ToolUseBlock, ...]:
        """The approved calls, in the model's order, now running."""
        order = {call.id: index for index, call in enumerate(self.calls)}
        calls = tuple(sorted(self.approved, key=lambda call: order[call.id]))
        self.approved = []
        self.running = {call.id for call in calls}
        return calls

    def answers(self) -> tuple[ToolResultBlock, ...]:
        """The results, in the order of the calls."""
        return tuple(self.results[call.id] for call in self.calls if call.id in self.results)

    def cut(self, why: str) -> None:
        """Answer every call that has no result yet with ``why``; nothing is left open."""
        for call in self.calls:
            if call.id not in self.results:
                self.results[call.id] = error_result(call.id, f"Error: {why}.")
        self.to_ask.clear()
        self.asking = None
        self.approved = []
        self.running = set()
        self.external = []


def plan_round(
    calls: Sequence[Call], tools: Mapping[str, LoopTool], settings: LoopSettings, doom: DoomWatch
) -> tuple[Round, str | None]:
    """Sort an answer's calls into a new ``Round``; the second value is why the run must stop
    (a doom loop), or None."""
    round_ = Round(calls=list(calls))
    threshold = settings.doom_loop_threshold
    counts = doom.observe(calls)
    futile = True
    stop: str | None = None
    for call, count in zip(calls, counts, strict=True):
        tool = None if isinstance(call, ToolUseError) else tools.get(call.name)
        if tool is not None:
            futile = False
        if stop is not None and tool is not None:
            continue  # the run stops: a usable call is answered as not run (the caller cuts the round)
        if stop is None and threshold is not None and count >= threshold:
            if settings.doom_loop_action == "stop" or count >= 2 * threshold:
                stop = f"doom loop: {call.name} called with the same arguments {count} times in a row"
                if tool is not None:
                    continue
            elif tool is not None:
                round_.results[call.id] = error_result(
                    call.id,
                    f"Error: not run. You called {call.name} with these same arguments {count} times in a row; "
                    "the result will not change. Try a different approach, or answer with what you have.",
                )
                continue
        if isinstance(call, ToolUseError):
            round_.results[call.id] = error_result(
                call.id,
                f"Error: the arguments of this {call.name or 'tool'} call could not be used ({call.error}). "
                "Call it again with arguments that are one JSON object.",
            )
            continue
        if tool is None:
            known = ", ".join(tools) or "none"
            round_.results[call.id] = error_result(
                call.id, f"Error: there is no tool named {call.name!r}. Available tools: {known}."
            )
            continue
        if tool.external:
            round_.external.append(call)
            continue
        decision = settings.permissions.decide(call.name, call.input, tool.traits)
        if decision.behavior == "allow":
            round_.approved.append(call)
        elif decision.behavior == "deny":
            round_.results[call.id] = error_result(call.id, f"Permission denied: {decision.reason}.")
        else:
            round_.to_ask.append((call, decision.reason, tool.traits))
    if stop is not None:
        return round_, stop  # an unusable or unknown call still says why it was
    doom.futile = doom.futile + 1 if futile else 0
    if threshold is not None and doom.futile >= 2 * threshold:
        names = ", ".join(sorted({call.name or "(unnamed)" for call in calls}))
        return round_, (
            f"doom loop: {doom.futile} answers in a row called only tools that do not exist or could not be used "
            f"({names})"
        )
    return round_, None
