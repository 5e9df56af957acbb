"""A framework embedding the core directly, with its own I/O loop and no async at all: the
``AgentLoop`` decides, ``Connection`` turns requests into bytes and bytes into events, and this
script does the I/O with blocking ``http.client`` (or, by default, reads the recorded response
bytes from a cassette) and runs the tool itself.

    python examples/embed_core.py                       # replays recordings/embed_core.jsonl
    python examples/embed_core.py --base-url http://localhost:1234/v1 --model qwen2.5-7b-instruct
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from anyagent_core import (
    NEED_DATA,
    PAUSED,
    AgentLoop,
    AskPermission,
    AssistantMessage,
    Connection,
    Done,
    Emit,
    Endpoint,
    Failure,
    LoopSettings,
    LoopTool,
    MessageComplete,
    PermissionDeny,
    Request,
    RunTools,
    SendRequest,
    StartTurn,
    ToolResultBlock,
    ToolSpec,
    ToolTraits,
    UserMessage,
    Wait,
)

# Only the cassette format (JSON Lines) comes from anyagent_httpx; nothing here is async.
from anyagent_httpx import Cassette, Exchange, RecordedRequest, RecordedResponse

HERE = Path(__file__).resolve().parent
CASSETTE = HERE / "recordings" / "embed_core.jsonl"

POPULATIONS = {"paris": 2_102_650, "lyon": 522_250, "marseille": 873_076}

LOOKUP = ToolSpec(
    name="population",
    description="The population of a French city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
)


def population(city: str) -> str:
    count = POPULATIONS.get(city.lower())
    return f"{city}: {count:,} inhabitants" if count is not None else f"no figure for {city}"


def live_exchange(request: Request) -> Iterator[tuple[int, list[tuple[str, str]], bytes]]:
    """Send ``request`` with http.client and yield (status, headers, chunk) as bytes arrive."""
    url = urlsplit(request.url)
    make = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    connection = make(url.netloc, timeout=120)
    try:
        path = url.path + (f"?{url.query}" if url.query else "")
        connection.request(request.method, path, body=request.body, headers=dict(request.headers))
        response = connection.getresponse()
        headers = [(k.lower(), v) for k, v in response.getheaders()]
        while chunk := response.read1(65536):
            yield response.status, headers, chunk
        yield response.status, headers, b""
    finally:
        connection.close()


def recorded_exchanges(path: Path) -> Replay:
    for exchange in Cassette.load(path).exchanges:
        response = exchange.response
        yield response.status, [(k.lower(), v) for k, v in response.headers], list(response.chunks)


Replay = Iterator[tuple[int, list[tuple[str, str]], list[bytes]]]


def perform(conn: Connection, request: Request, replay: Replay | None, log: list[Exchange]) -> AssistantMessage | None:
    """One exchange through the core; the answer, or None if the server said no."""
    if replay is not None:
        status, headers, chunks = next(replay)
    else:
        stream = live_exchange(request)
        status, headers, first = next(stream)
        chunks = [first, *(chunk for _, _, chunk in stream if chunk)]
        sent = RecordedRequest(method=request.method, url=request.url, headers=request.headers, body=request.body)
        log.append(Exchange(request=sent, response=RecordedResponse(status=status, headers=headers, chunks=chunks)))
    pieces = iter([*chunks, b""])
    conn.receive_head(status, headers)
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            conn.receive_data(next(pieces, b""))
        elif event is PAUSED:
            break
        elif type(event) is MessageComplete:
            complete = event
    if not 200 <= status < 300 or complete.error is not None:
        return None
    return complete.message


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    parser.add_argument("--record", type=Path, metavar="CASSETTE", help="record the live run")
    args = parser.parse_args()
    log: list[Exchange] = []
    replay = None if args.base_url else recorded_exchanges(CASSETTE)
    base_url = args.base_url or "http://replay.invalid/v1"
    model = args.model or "scripted-model"

    endpoint = Endpoint(base_url=base_url)
    loop = AgentLoop(
        LoopSettings(
            template=StartTurn(model=model, messages=(), max_tokens=512),
            tools=[LoopTool(spec=LOOKUP, traits=ToolTraits(read_only=True))],
            max_turns=5,
        )
    )
    loop.start(UserMessage(content="Which is bigger, Lyon or Marseille? Use the population tool."))
    while True:
        action = loop.next_action()
        if type(action) is SendRequest:
            conn = Connection(endpoint)
            answer = perform(conn, conn.send(action.turn), replay, log)
            if answer is None:
                loop.request_failed(Failure.STATUS, status=500, now=time.time())
            else:
                loop.receive_response(answer)
        elif type(action) is Wait:
            time.sleep(action.seconds)
        elif type(action) is AskPermission:
            loop.permission(action.call.id, PermissionDeny(message="this framework asks nobody"))
        elif type(action) is RunTools:
            for call in action.calls:
                output = population(str(call.input.get("city", "")))
                print(f"  tool {call.name}({json.dumps(dict(call.input))}) -> {output}")
                loop.tool_result(ToolResultBlock(tool_use_id=call.id, content=output))
        elif type(action) is Emit:
            if isinstance(action.message, AssistantMessage) and action.message.text:
                print(f"model: {action.message.text}")
        elif type(action) is Done:
            print(f"[{action.result.subtype}] {action.result.num_turns} turns")
            if args.record is not None:
                Cassette(exchanges=log).dump(args.record)
            return 0 if not action.result.is_error else 1


if __name__ == "__main__":
    raise SystemExit(main())
