"""What the examples share: replay a shipped recording (the default), record, or run live."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import httpx

from anyagent_httpx import Cassette, RecordingTransport, ReplayTransport, default_http_client

HERE = Path(__file__).resolve().parent
RECORDINGS = HERE / "recordings"
WORKSPACE = HERE / "workspace"


@attrs.frozen(kw_only=True)
class Target:
    """Where the model is: a recording to replay, or a live endpoint (perhaps recorded)."""

    base_url: str
    model: str
    replay: Path | None = None
    record: Path | None = None
    realtime: bool = False


def parser(description: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="run live against this endpoint instead of the recording")
    parser.add_argument("--model", help="the model name (with --base-url)")
    parser.add_argument("--record", type=Path, metavar="CASSETTE", help="record the live run")
    return parser


def target(args: argparse.Namespace, cassette: str, *, realtime: bool = False) -> Target:
    if args.base_url:
        if not args.model:
            raise SystemExit("--base-url needs --model")
        return Target(base_url=args.base_url, model=args.model, record=args.record)
    recorded = Cassette.load(RECORDINGS / cassette)
    first = recorded.exchanges[0].request
    base_url = first.url.split("/chat/completions", 1)[0]
    model = str(httpx.Response(200, content=first.body).json()["model"])
    return Target(base_url=base_url, model=model, replay=RECORDINGS / cassette, realtime=realtime)


@asynccontextmanager
async def http_client(where: Target) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` that replays, records or just talks to the endpoint."""
    recorder: RecordingTransport | None = None
    if where.replay is not None:
        client = httpx.AsyncClient(transport=ReplayTransport(Cassette.load(where.replay), realtime=where.realtime))
    elif where.record is not None:
        recorder = RecordingTransport()
        client = default_http_client(transport=recorder)
    else:
        client = default_http_client()
    try:
        async with client:
            yield client
    finally:
        if recorder is not None and where.record is not None:
            recorder.save(where.record)
