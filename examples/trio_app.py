"""A trio application: two agents answer at the same time in one nursery, and a third one is cut
interrupted at a deadline (what had arrived is kept, the result says ``interrupted``).

    python examples/trio_app.py                          # replays recordings/trio_*.jsonl
    python examples/trio_app.py --base-url http://localhost:8080/v1 --model tiny
"""

from __future__ import annotations

from contextlib import aclosing

import trio
from _common import Target, http_client, parser, target

from anyagent_httpx import AgentOptions, Client, ResultMessage

QUESTIONS = {
    "trio_capital.jsonl": "What is the capital of France? One word.",
    "trio_river.jsonl": "Name the longest river in France. One word.",
}
SLOW = "trio_story.jsonl"


async def answer(where: Target, prompt: str, results: dict[str, str]) -> None:
    async with http_client(where) as http:
        options = AgentOptions(model=where.model, base_url=where.base_url, http_client=http)
        async with Client(options) as client:
            await client.query(prompt)
            async with aclosing(client.receive_response()) as messages:
                async for message in messages:
                    if isinstance(message, ResultMessage):
                        results[prompt] = message.result or ""


async def story(where: Target, deadline: float) -> None:
    """A long answer, interrupted at ``deadline``: what had arrived is kept."""
    async with http_client(where) as http:
        options = AgentOptions(model=where.model, base_url=where.base_url, http_client=http)
        async with Client(options) as client, trio.open_nursery() as nursery:
            await client.query("Tell me a long story about the sea.")

            async def stop_at_deadline() -> None:
                await trio.sleep(deadline)
                await client.interrupt()

            nursery.start_soon(stop_at_deadline)
            async with aclosing(client.receive_response()) as messages:
                async for message in messages:
                    if isinstance(message, ResultMessage):
                        print(f"story: {message.subtype} after {deadline} s, kept: {message.result!r}")
            nursery.cancel_scope.cancel()


async def main() -> int:
    args = parser(__doc__).parse_args()
    results: dict[str, str] = {}
    async with trio.open_nursery() as nursery:
        for cassette, prompt in QUESTIONS.items():
            nursery.start_soon(answer, target(args, cassette), prompt, results)
        nursery.start_soon(story, target(args, SLOW, realtime=True), 0.5)
    for prompt in QUESTIONS.values():
        print(f"{prompt} -> {results.get(prompt)}")
    return 0 if len(results) == len(QUESTIONS) else 1


if __name__ == "__main__":
    raise SystemExit(trio.run(main))
