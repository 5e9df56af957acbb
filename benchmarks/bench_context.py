"""Context benchmark: compacting a long history, counting tokens, and how close the estimate is.

    python benchmarks/bench_context.py [--messages N] [--repeats N] [--quick] [--json PATH]

**Compaction.** A history of ``MESSAGES`` (10,000) messages, a repeating agent exchange (a
prompt, a tool call, its result of a few hundred characters of code, an answer), fitted to a
32,000-token limit by the plain character estimate. anyagent's strategies (``sliding``,
``truncate``, ``adaptive``: the plan, not the summary request) run over a ``ContextView``, as
the agent loop does before each request; the peer is LangChain's ``trim_messages`` (langchain-core,
``strategy="last"``, ``start_on="human"``, its ``count_tokens_approximately``: four characters a
token too) over the same history as LangChain messages (built before the clock starts). Best of
the rounds, in milliseconds, with how many messages each kept.

**Counting.** The tiny test model's ``tokenizer.json`` (../shared/models/tiny-agent-hf) on
English prose (this repository's docs) and on code (its core's sources), cut into messages of
about 600 characters: ``TokenizersCounter.count_message`` (a fresh counter each round, so its
cache does not help; and a second pass over the same messages, as a conversation that resends
them) against calling ``tokenizers`` directly (``encode`` per text, and ``encode_batch``), and
the estimate (``CalibratedEstimate``) for scale, in messages per second.

**Estimate error.** For requests of 20 messages rendered with the tiny model's ChatML template
and counted by its tokenizer (what its server reports as ``prompt_tokens``), the calibrated
estimate's error on a request it has not seen, before calibration and after 1, 2 and 3 reports
(the target: within 10% after three).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import table
from anyagent_core import AssistantMessage, Message, TextBlock, ToolResultBlock, ToolUseBlock, UserMessage
from anyagent_core.context import (
    CalibratedEstimate,
    CharEstimate,
    Compaction,
    ContextView,
    adaptive,
    sliding,
    truncate,
)

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER = ROOT.parent / "shared" / "models" / "tiny-agent-hf" / "tokenizer.json"
LIMIT = 32_000
CHUNK = 600

_CODE = (
    "def handle(request):\n    body = json.loads(request.body)\n    if not body.get('items'):\n"
    "        raise ValueError('no items')\n    return [item['id'] for item in body['items']]\n"
)


def history(size: int) -> tuple[Message, ...]:
    """``size`` messages: prompt, tool call, tool result, answer, again and again."""
    messages: list[Message] = []
    turn = 0
    while len(messages) < size:
        call = ToolUseBlock(id=f"call_{turn}", name="read_file", input={"path": f"src/module_{turn}.py"})
        messages += [
            UserMessage(content=f"Turn {turn}: look at module {turn} and tell me what its handler returns."),
            AssistantMessage(content=(call,), model="bench", stop_reason="tool_calls"),
            UserMessage(content=(ToolResultBlock(tool_use_id=call.id, content=_CODE * 3),)),
            AssistantMessage(
                content=(TextBlock(text=f"Module {turn}'s handler returns the ids of the items it was sent."),),
                model="bench",
                stop_reason="stop",
            ),
        ]
        turn += 1
    return tuple(messages[:size])


def as_langchain(messages: Sequence[Message]) -> list[Any]:
    """The same history as LangChain messages (a tool call in ``tool_calls``, results as ``ToolMessage``)."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    converted: list[Any] = []
    for message in messages:
        if isinstance(message, UserMessage):
            if isinstance(message.content, str):
                converted.append(HumanMessage(content=message.content))
            else:
                for block in message.content:
                    if isinstance(block, ToolResultBlock):
                        converted.append(ToolMessage(content=str(block.content), tool_call_id=block.tool_use_id))
        elif isinstance(message, AssistantMessage):
            calls = [
                {"name": b.name, "args": dict(b.input), "id": b.id, "type": "tool_call"}
                for b in message.content
                if isinstance(b, ToolUseBlock)
            ]
            converted.append(AIMessage(content=message.text, tool_calls=calls))
    return converted


def best(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    """The fastest of ``repeats`` runs, in seconds, with the collector off; and the last result."""
    timings: list[float] = []
    result: object = None
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            result = run()
            timings.append(time.perf_counter() - started)
        finally:
            gc.enable()
    return min(timings), result


def _plan(strategy: Callable[[ContextView], Compaction], view: Callable[[], ContextView]) -> Compaction:
    return strategy(view())


def bench_compaction(size: int, repeats: int) -> tuple[list[list[str]], dict[str, str], dict[str, Any]]:
    messages = history(size)
    keep_from = len(messages) - 4  # the run's own exchange: its prompt and what followed

    def view() -> ContextView:
        return ContextView(messages=messages, limit=LIMIT, keep_from=keep_from, counter=CharEstimate())

    rows: list[list[str]] = []
    found: dict[str, Any] = {}
    strategies: dict[str, Callable[[ContextView], Compaction]] = {
        "anyagent sliding": sliding,
        "anyagent truncate": truncate,
        "anyagent adaptive": adaptive,
    }
    for name, strategy in strategies.items():
        seconds, plan = best(partial(_plan, strategy, view), repeats)
        assert isinstance(plan, Compaction)
        kept = len(plan.messages)
        found[name] = {"ms": seconds * 1000, "kept": kept}
        rows.append([name, f"{seconds * 1000:.1f}", str(kept)])
    skipped: dict[str, str] = {}
    try:
        from langchain_core.messages.utils import count_tokens_approximately, trim_messages
    except ImportError:
        skipped["langchain trim_messages"] = "not installed (pip install langchain-core; the bench group has it)"
        return rows, skipped, found
    peer = as_langchain(messages)

    def trim() -> list[Any]:
        return trim_messages(
            peer, max_tokens=LIMIT, token_counter=count_tokens_approximately, strategy="last", start_on="human"
        )

    seconds, kept_peer = best(trim, repeats)
    found["langchain trim_messages"] = {"ms": seconds * 1000, "kept": len(kept_peer)}  # type: ignore[arg-type]
    rows.append(["langchain trim_messages", f"{seconds * 1000:.1f}", str(len(kept_peer))])  # type: ignore[arg-type]
    ours = found["anyagent sliding"]["ms"]
    for row in rows:
        row.append(f"{found[row[0]]['ms'] / ours:.2f}x")
    return rows, skipped, found


def corpus() -> dict[str, list[str]]:
    """English prose (the docs) and code (the core's sources), cut into ``CHUNK``-character texts."""
    prose = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md")))
    code = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "src" / "anyagent_core").rglob("*.py")))
    return {
        kind: [text[i : i + CHUNK] for i in range(0, len(text) - CHUNK, CHUNK)][:2000]
        for kind, text in (("prose", prose), ("code", code))
    }


def counting_contenders(tokenizer: Any, texts: list[str]) -> dict[str, Callable[[], int]]:
    """What counts ``texts``: ``tokenizers`` itself, ``TokenizersCounter`` and the estimate."""
    from anyagent_httpx import TokenizersCounter

    messages = [UserMessage(content=text) for text in texts]
    counter = TokenizersCounter(tokenizer)

    def ours() -> int:
        fresh = TokenizersCounter(tokenizer)
        return sum(fresh.count_message(m) for m in messages)

    def again() -> int:
        return sum(counter.count_message(m) for m in messages)

    def direct() -> int:
        return sum(len(tokenizer.encode(t, add_special_tokens=False).ids) for t in texts)

    def batch() -> int:
        return sum(len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False))

    def estimate() -> int:
        fresh = CalibratedEstimate()
        return sum(fresh.count_message(m) for m in messages)

    again()  # fill the cache
    return {
        "tokenizers encode": direct,
        "tokenizers encode_batch": batch,
        "TokenizersCounter": ours,
        "TokenizersCounter, resent": again,
        "CalibratedEstimate": estimate,
    }


def bench_counting(repeats: int) -> tuple[list[list[str]], dict[str, Any]]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    rows: list[list[str]] = []
    found: dict[str, Any] = {}
    for kind, texts in corpus().items():
        timings = {name: best(run, repeats)[0] for name, run in counting_contenders(tokenizer, texts).items()}
        floor = timings["tokenizers encode"]
        for name, seconds in timings.items():
            rate = len(texts) / seconds
            found[f"{kind}: {name}"] = {"messages_per_s": rate}
            rows.append([f"{kind}: {name}", f"{rate:,.0f}", f"{floor / seconds:.2f}x"])
    return rows, found


def chatml(messages: Sequence[Message]) -> str:
    """The tiny model's chat template, as its server applies it."""
    parts = [f"<|im_start|>user\n{m.content}<|im_end|>\n" for m in messages if isinstance(m, UserMessage)]
    return "".join(parts) + "<|im_start|>assistant\n"


def bench_error() -> tuple[list[list[str]], dict[str, Any]]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    rows: list[list[str]] = []
    found: dict[str, Any] = {}
    for kind, texts in corpus().items():
        requests = [[UserMessage(content=t) for t in texts[i : i + 20]] for i in range(0, 100, 20)]
        truth = [len(tokenizer.encode(chatml(r), add_special_tokens=False).ids) for r in requests]
        estimate = CalibratedEstimate()
        held_out, target = requests[-1], truth[-1]
        errors = []
        for seen in range(4):
            guess = sum(estimate.count_message(m) for m in held_out)
            errors.append(abs(guess - target) / target)
            if seen < 3:
                estimate.calibrate(requests[seen], None, (), truth[seen])
        found[kind] = {
            "error_before": errors[0],
            "error_after": errors[1:],
            "chars_per_token": estimate.chars_per_token,
        }
        rows.append([kind, *(f"{e:.1%}" for e in errors), f"{estimate.chars_per_token:.2f}"])
    return rows, found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="history length (10,000)")
    parser.add_argument("--repeats", type=int, default=7, help="rounds, best taken (7)")
    parser.add_argument("--quick", action="store_true", help="2 rounds: a smoke run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.messages < 8 or args.repeats < 1:
        parser.error("--messages must be at least 8 and --repeats at least 1")
    repeats = 2 if args.quick else args.repeats
    report: dict[str, Any] = {}
    rows, skipped, report["compaction"] = bench_compaction(args.messages, repeats)
    print(f"compaction of a {args.messages:,}-message history to {LIMIT:,} tokens (best of {repeats}):")
    print("\n".join(table(["strategy", "ms", "kept", "vs sliding"], rows, skipped)))
    if not TOKENIZER.is_file():
        print(f"\ncounting and estimate error: skipped, no {TOKENIZER} (../shared is absent)")
    else:
        try:
            import tokenizers  # noqa: F401
        except ImportError:
            print("\ncounting and estimate error: skipped, tokenizers is not installed (the bench group has it)")
        else:
            rows, report["counting"] = bench_counting(repeats)
            print(f"\ncounting with the tiny model's tokenizer, messages of {CHUNK} characters (best of {repeats}):")
            print("\n".join(table(["counter", "messages/s", "vs encode"], rows, {})))
            rows, report["estimate_error"] = bench_error()
            print("\nthe calibrated estimate's error on an unseen 20-message request, by reports learned from:")
            print("\n".join(table(["text", "0", "1", "2", "3", "chars/token"], rows, {})))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
