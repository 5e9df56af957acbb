"""``anyagent doctor``'s probes and verdicts, as data: the requests it sends (``probe_turns``,
``probe_get``, ``probe_post``), the judgement of each answer (``judge_*`` over a
``ProbeAnswer``), and the ``Diagnosis`` with the options it recommends; the rules are in
``_probe``'s docstring. ``anyagent_httpx.diagnose`` sends the requests."""

from __future__ import annotations

from ._probe import (
    MAX_BODY,
    Diagnosis,
    DoctorCheck,
    ProbeAnswer,
    Status,
    judge_chat,
    judge_embeddings,
    judge_forced_tool,
    judge_json_schema,
    judge_models,
    judge_parallel,
    judge_reasoning_field,
    judge_streaming,
    judge_text_tool_calls,
    judge_tokenize,
    judge_tool_calls,
    probe_failure,
    probe_get,
    probe_post,
    probe_turns,
    recommend,
    speed,
)

__all__ = [
    "MAX_BODY",
    "Diagnosis",
    "DoctorCheck",
    "ProbeAnswer",
    "Status",
    "judge_chat",
    "judge_embeddings",
    "judge_forced_tool",
    "judge_json_schema",
    "judge_models",
    "judge_parallel",
    "judge_reasoning_field",
    "judge_streaming",
    "judge_text_tool_calls",
    "judge_tokenize",
    "judge_tool_calls",
    "probe_failure",
    "probe_get",
    "probe_post",
    "probe_turns",
    "recommend",
    "speed",
]
