"""End-to-end transport benchmark: anyagent's query() against openai-python and raw httpx.

    python benchmarks/bench_transport.py [--rounds N] [--quick] [--backend asyncio|trio] [--json PATH]

Every contender does the whole job: the request out, the streamed body in (read to its end, so
connections are pooled), the final text assembled. All of them talk to one loopback server
(``_loopback.py``), started once per run in a process of its own, so the server's work never
shares the clients' event loop.

Contenders (each keeps one shared client or transport for the whole run, as users do):

* ``anyagent/httpx``: ``query(prompt=..., options=AgentOptions(model=..., base_url=...,
  http_client=shared))`` per request, every message consumed up to the ``ResultMessage``. One
  ``httpx.AsyncClient`` from ``default_http_client()`` serves every request: each ``query()``
  opens a ``Client`` of its own on it (a ``Client`` kept across requests would send its whole
  conversation each time), so connections are pooled.
* ``anyagent/h11``: the same with ``AgentOptions(transport=shared_h11_transport)``, run when
  ``anyagent_httpx`` has ``H11Transport`` (reported as not available otherwise). For the
  concurrent workload it may open as many connections as there are streams, as httpx may.
* ``openai``: ``AsyncOpenAI(base_url=..., api_key="x", max_retries=0)`` and
  ``chat.completions.create(..., stream=True)``, every chunk iterated and its content
  accumulated (asyncio only: openai-python does not run under trio).
* ``raw httpx``, the floor: ``client.stream("POST", ...)``, ``aiter_lines()``, the ``data: ``
  prefix cut off by hand, ``json.loads`` per chunk, the content collected in a list. With
  ``--floor-bytes`` it splits ``aiter_bytes()`` on blank lines itself (a stricter floor).

Workloads:

* (a) stream: one answer of 4,000 content chunks (4,003 JSON chunks), the best of several
  requests per round: chunks/s;
* (b) sequential: 1,000 requests for 20-chunk answers, one after the other: us/request;
* (c) concurrent: 100 simultaneous 4,000-chunk streams, each contender in a fresh interpreter
  after one warm-up request: wall time, and peak RSS (``ru_maxrss`` read in that interpreter);
* (d) import time of ``anyagent_httpx``, ``openai`` and ``httpx``: a fresh interpreter each,
  ``python -c "import X"`` minus ``python -c pass``, best of several.

The texts every contender assembles are checked against the ground truth before any timing
(a verified warm-up) and after every timed run; a mismatch aborts the run. The rounds visit the
contenders in turn, so drift in the machine's speed hits all of them alike. Each timed run
starts after ``gc.collect()``; the collector stays on (a real client pays for it too).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _loopback import SHORT_CHUNKS, SHORT_VARIANTS, STREAM_CHUNKS, long_answer, short_answers
from _report import HIDE_CLI_EXTRAS, table, target_lines

# Only the standard library is imported up to here: workload (c) runs each contender in a fresh
# interpreter (this script with ``--worker``) whose peak RSS must count that contender's imports
# alone, and starts those interpreters while this one is still small (see ``worker_main``).
# Each contender imports what it needs when it opens.

HERE = Path(__file__).resolve().parent

TARGET_STREAM_VS_RAW = 0.8
"""anyagent's stream throughput must be at least this fraction of raw httpx's."""
TARGET_REQUEST_VS_RAW = 1.3
"""anyagent's time per sequential request may be at most this multiple of raw httpx's."""
TARGET_CONCURRENT_VS_OPENAI = 5.0
"""The concurrent streams must be done at least this many times sooner than openai-python's."""

STREAM_MODEL = f"w{STREAM_CHUNKS}"
SHORT_MODEL = f"w{SHORT_CHUNKS}"

ANYAGENT_HTTPX = "anyagent/httpx"
ANYAGENT_H11 = "anyagent/h11"
OPENAI = "openai"
RAW = "raw httpx"
OURS = (ANYAGENT_HTTPX, ANYAGENT_H11)

LABELS = {
    ANYAGENT_HTTPX: "anyagent query() over HttpxTransport",
    ANYAGENT_H11: "anyagent query() over H11Transport",
    OPENAI: "openai AsyncOpenAI create(stream=True)",
    RAW: "raw httpx + json.loads (the floor)",
}

#: The request headers of the hand-written contender (what anyagent sends).
_HEADERS = {"content-type": "application/json", "accept": "text/event-stream"}

_floor_bytes = False
"""``--floor-bytes``: the raw contender splits ``aiter_bytes()`` itself, not ``aiter_lines()``."""


# ---- contenders -----------------------------------------------------------------------------


class Contender:
    """One way of doing the job: ``open()`` once, ``request()`` any number of times (also
    concurrently), ``aclose()`` at the end."""

    name: str

    def unavailable(self, backend: str) -> str | None:
        """Why this contender cannot run (None: it can). Imports nothing."""
        return None

    async def open(self, base_url: str, *, connections: int) -> None:
        """Build the shared client; ``connections``: the most requests that will run at once."""

    async def request(self, model: str, prompt: str) -> str:
        """One request, its body read to the end: the assembled text."""
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


def _h11_transport_class() -> Any:
    import anyagent_httpx

    cls = getattr(anyagent_httpx, "H11Transport", None)
    if cls is None:
        cls = importlib.import_module("anyagent_httpx._transports").H11Transport
    return cls


class AnyAgent(Contender):
    """``query()`` per request, with options sharing one httpx client or one H11Transport."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._options: dict[str, Any] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._query: Any = None
        self._result_type: Any = None

    def unavailable(self, backend: str) -> str | None:
        if self.name == ANYAGENT_H11:
            spec = importlib.util.find_spec("anyagent_httpx")  # finds, does not import
            package = None if spec is None or spec.origin is None else Path(spec.origin).parent
            if package is None or not any((package / path).exists() for path in ("_transports/_h11.py", "_h11.py")):
                return "not available (anyagent_httpx has no H11Transport yet)"
        return None

    async def open(self, base_url: str, *, connections: int) -> None:
        from anyagent_httpx import AgentOptions, ResultMessage, default_http_client, query

        self._query = query
        self._result_type = ResultMessage
        shared: dict[str, Any]
        if self.name == ANYAGENT_HTTPX:
            http_client = default_http_client()
            self._closers.append(http_client.aclose)
            shared = {"http_client": http_client}
        else:
            cls = _h11_transport_class()
            kwargs: dict[str, Any] = {}
            limit = inspect.signature(cls).parameters.get("max_connections_per_host")
            if limit is not None and isinstance(limit.default, int) and limit.default < connections:
                kwargs["max_connections_per_host"] = connections
            transport = cls(**kwargs)
            self._closers.append(transport.aclose)
            shared = {"transport": transport}
        self._options = {
            model: AgentOptions(model=model, base_url=base_url, **shared) for model in (STREAM_MODEL, SHORT_MODEL)
        }

    async def request(self, model: str, prompt: str) -> str:
        result: Any = None
        async for message in self._query(prompt=prompt, options=self._options[model]):
            result = message
        if type(result) is not self._result_type or result.subtype != "success":
            raise SystemExit(f"{self.name}: the last message is not a successful ResultMessage: {result!r:.300}")
        return result.result or ""

    async def aclose(self) -> None:
        for close in self._closers:
            await close()


class OpenAI(Contender):
    name = OPENAI

    def __init__(self) -> None:
        self._client: Any = None

    def unavailable(self, backend: str) -> str | None:
        if backend != "asyncio":
            return f"skipped: openai-python runs under asyncio only, not {backend}"
        return None

    async def open(self, base_url: str, *, connections: int) -> None:
        import openai

        self._client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)

    async def request(self, model: str, prompt: str) -> str:
        stream = await self._client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = []
        async for chunk in stream:
            if chunk.choices:
                content = chunk.choices[0].delta.content
                if content:
                    parts.append(content)
        return "".join(parts)

    async def aclose(self) -> None:
        await self._client.close()


class RawHttpx(Contender):
    name = RAW

    def __init__(self) -> None:
        self._client: Any = None
        self._url = ""

    async def open(self, base_url: str, *, connections: int) -> None:
        import httpx

        # anyagent's DEFAULT_TIMEOUT and DEFAULT_LIMITS, without importing anyagent here.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=10.0, read=600.0, write=60.0, pool=60.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30.0),
        )
        self._url = base_url + "/chat/completions"

    async def request(self, model: str, prompt: str) -> str:
        payload = {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        loads = json.loads
        parts: list[str] = []
        async with self._client.stream("POST", self._url, content=body, headers=_HEADERS) as response:
            if response.status_code != 200:
                raise SystemExit(f"{self.name}: status {response.status_code}")
            if _floor_bytes:
                buf = bytearray()
                async for read in response.aiter_bytes():
                    buf += read
                    start = 0
                    while (end := buf.find(b"\n\n", start)) >= 0:
                        if buf.startswith(b"data: {", start):
                            choices = loads(buf[start + 6 : end])["choices"]
                            if choices:
                                content = choices[0]["delta"].get("content")
                                if content:
                                    parts.append(content)
                        start = end + 2
                    del buf[:start]
            else:
                async for line in response.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        choices = loads(line[6:])["choices"]
                        if choices:
                            content = choices[0]["delta"].get("content")
                            if content:
                                parts.append(content)
        return "".join(parts)

    async def aclose(self) -> None:
        await self._client.aclose()


def make_contenders() -> dict[str, Contender]:
    contenders: list[Contender] = [AnyAgent(ANYAGENT_HTTPX), AnyAgent(ANYAGENT_H11), OpenAI(), RawHttpx()]
    return {contender.name: contender for contender in contenders}


# ---- processes ------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment of child interpreters: they import the same anyagent sources as this
    one (the directory ``anyagent_httpx`` is found in goes first on ``PYTHONPATH``)."""
    env = dict(os.environ)
    spec = importlib.util.find_spec("anyagent_httpx")
    paths = [str(Path(spec.origin).parent.parent)] if spec is not None and spec.origin else []
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


class LoopbackServer:
    """``_loopback.py`` in a subprocess: started, its port read, terminated on exit."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> LoopbackServer:
        self._proc = subprocess.Popen([sys.executable, str(HERE / "_loopback.py")], stdout=subprocess.PIPE)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # b"" if it died
        if not line.strip().isdigit():
            self.__exit__()
            raise SystemExit(f"the loopback server did not start (it printed {line!r})")
        self.port = int(line)
        return self

    def __exit__(self, *exc_info: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


# ---- ground truth ---------------------------------------------------------------------------


def _mismatch(name: str, what: str, got: str, want: str) -> SystemExit:
    at = next((i for i, (g, w) in enumerate(zip(got, want, strict=False)) if g != w), min(len(got), len(want)))
    return SystemExit(
        f"{name}: {what}: the assembled text differs from the expected one at character {at} "
        f"(got {len(got)} characters, want {len(want)}):\n  got  {got[at : at + 60]!r}\n  want {want[at : at + 60]!r}"
    )


@dataclass
class Truth:
    """The texts a correct client assembles; the short answers are built only when needed."""

    stream_text: str
    stream_chunks: int
    short_texts: list[str] = field(default_factory=list)
    short_chunks: int = SHORT_CHUNKS

    @classmethod
    def build(cls) -> Truth:
        body, expected = long_answer()
        return cls(stream_text=expected.content, stream_chunks=body.count(b"data: {"))

    @property
    def stream_digest(self) -> str:
        return hashlib.sha256(self.stream_text.encode()).hexdigest()

    def add_short(self) -> None:
        answers = short_answers()
        self.short_texts = [expected.content for _, expected in answers]
        self.short_chunks = answers[0][0].count(b"data: {")

    def check_stream(self, name: str, text: str) -> None:
        if text != self.stream_text:
            raise _mismatch(name, STREAM_MODEL, text, self.stream_text)

    def check_short(self, name: str, texts: Sequence[str]) -> None:
        for i, text in enumerate(texts):
            want = self.short_texts[i % SHORT_VARIANTS]
            if text != want:
                raise _mismatch(name, f"{SHORT_MODEL} request {i}", text, want)


# ---- (a) stream and (b) sequential requests, in this process --------------------------------


async def verify(contender: Contender, truth: Truth) -> None:
    """One long answer and 50 short ones, checked (also the warm-up: a connection pooled)."""
    truth.check_stream(contender.name, await contender.request(STREAM_MODEL, "0"))
    truth.check_short(contender.name, [await contender.request(SHORT_MODEL, str(i)) for i in range(50)])


async def time_stream(contender: Contender, truth: Truth, repeats: int) -> float:
    """The best time of one long answer over ``repeats`` requests."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        text = await contender.request(STREAM_MODEL, "0")
        elapsed = time.perf_counter() - start
        truth.check_stream(contender.name, text)
        best = min(best, elapsed)
    return best


async def time_sequential(contender: Contender, truth: Truth, requests: int) -> float:
    """The time of ``requests`` short answers, one after the other."""
    texts: list[str] = []
    request = contender.request
    gc.collect()
    start = time.perf_counter()
    for i in range(requests):
        texts.append(await request(SHORT_MODEL, str(i)))
    elapsed = time.perf_counter() - start
    truth.check_short(contender.name, texts)
    return elapsed


async def in_process(
    contenders: Sequence[Contender], base_url: str, truth: Truth, *, rounds: int, repeats: int, requests: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Workloads (a) and (b): each contender's best time."""
    stream = {c.name: float("inf") for c in contenders}
    sequential = dict(stream)
    try:
        for contender in contenders:
            await contender.open(base_url, connections=1)
            await verify(contender, truth)
        for _ in range(rounds):
            for c in contenders:
                stream[c.name] = min(stream[c.name], await time_stream(c, truth, repeats))
            for c in contenders:
                sequential[c.name] = min(sequential[c.name], await time_sequential(c, truth, requests))
    finally:
        for contender in contenders:
            await contender.aclose()
    return stream, sequential


# ---- (c) concurrent streams, a fresh interpreter per contender -----------------------------


def _maxrss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB elsewhere


def _hwm_mib() -> float | None:
    """Linux's ``VmHWM``: the peak RSS of this process's own memory (a cross-check)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    return None


async def _concurrent(
    contender: Contender, base_url: str, streams: int, digest: str, inherited: float
) -> dict[str, float | None]:
    import anyio

    def check(text: str) -> None:
        if hashlib.sha256(text.encode()).hexdigest() != digest:
            raise SystemExit(f"{contender.name}: a concurrent stream assembled a different text")

    texts = [""] * streams

    async def one(i: int) -> None:
        texts[i] = await contender.request(STREAM_MODEL, "0")

    await contender.open(base_url, connections=streams)
    try:
        check(await contender.request(STREAM_MODEL, "0"))  # the verified warm-up
        rss_warm = _maxrss_mib()
        gc.collect()
        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i in range(streams):
                tg.start_soon(one, i)
        elapsed = time.perf_counter() - start
    finally:
        await contender.aclose()
    for text in texts:
        check(text)
    peak = _maxrss_mib()
    if peak <= inherited:
        raise SystemExit(
            f"{contender.name}: ru_maxrss ({peak:.1f} MiB) never rose above what this process inherited "
            f"({inherited:.1f} MiB): it would not measure this contender"
        )
    return {"seconds": elapsed, "rss_warm_mib": rss_warm, "rss_peak_mib": peak, "vm_hwm_mib": _hwm_mib()}


def worker_main(args: argparse.Namespace) -> int:
    """``--worker NAME``: workload (c) for one contender; prints its figures as JSON."""
    # Linux keeps ``ru_maxrss`` across ``exec``: a child starts with its parent's peak. So the
    # parent starts the workers while it is small, and the figure inherited is read here, first,
    # to make sure the one reported rose above it.
    inherited = _maxrss_mib()
    import anyio

    contender = make_contenders()[args.worker]
    base_url = f"http://127.0.0.1:{args.port}/v1"
    figures = anyio.run(_concurrent, contender, base_url, args.streams, args.digest, inherited, backend=args.backend)
    print(json.dumps(figures))
    return 0


def run_concurrent(name: str, port: int, streams: int, backend: str, digest: str) -> dict[str, float]:
    """Workload (c) for contender ``name`` in a fresh interpreter: its figures."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--worker", name, "--port", str(port),
        "--streams", str(streams), "--backend", backend, "--digest", digest,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=child_env(), check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name}: the concurrent worker failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# ---- (d) import time ------------------------------------------------------------------------

IMPORTS = ("anyagent_httpx", "openai", "httpx")


def import_times(repeats: int) -> dict[str, float]:
    """Milliseconds to import each module in a fresh interpreter beyond a bare start (best of
    ``repeats``; the interpreters are started in turn)."""
    env = child_env()
    best = dict.fromkeys(("", *IMPORTS), float("inf"))
    for _ in range(repeats):
        for module in best:
            code = HIDE_CLI_EXTRAS + (f"import {module}" if module else "pass")  # as for a user of anyagent alone
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, check=True)
            best[module] = min(best[module], time.perf_counter() - start)
    bare = best.pop("")
    return {"bare_start": bare * 1e3, **{module: (seconds - bare) * 1e3 for module, seconds in best.items()}}


# ---- report ---------------------------------------------------------------------------------


@dataclass
class Report:
    backend: str
    rounds: int
    repeats: int
    requests: int
    streams: int
    import_repeats: int
    truth: Truth
    skipped: dict[str, str]
    stream_s: dict[str, float] = field(default_factory=dict)
    sequential_s: dict[str, float] = field(default_factory=dict)
    concurrent: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    imports_ms: dict[str, float] = field(default_factory=dict)

    @property
    def measured(self) -> list[str]:
        return [name for name in LABELS if name not in self.skipped]

    def chunks_per_s(self, name: str) -> float:
        return self.truth.stream_chunks / self.stream_s[name]

    def us_per_request(self, name: str) -> float:
        return self.sequential_s[name] / self.requests * 1e6

    def concurrent_s(self, name: str) -> float:
        return min(run["seconds"] for run in self.concurrent[name])

    def peak_rss(self, name: str) -> float:
        return max(run["rss_peak_mib"] for run in self.concurrent[name])

    def stream_vs_raw(self, name: str) -> float:
        """Throughput as a fraction of raw httpx's."""
        return self.stream_s[RAW] / self.stream_s[name]

    def request_vs_raw(self, name: str) -> float:
        """Time per request as a multiple of raw httpx's."""
        return self.sequential_s[name] / self.sequential_s[RAW]

    def faster_than_openai(self, name: str) -> float | None:
        """How many times sooner than openai-python the concurrent streams were done."""
        return None if OPENAI in self.skipped else self.concurrent_s(OPENAI) / self.concurrent_s(name)

    def targets(self) -> list[tuple[str, float | None, bool | None]]:
        """``(target, ratio, passed)``; ratio and passed are None when it was not measurable."""
        rows: list[tuple[str, float | None, bool | None]] = []
        for ours in OURS:
            if ours in self.skipped:
                continue
            ratio: float | None = self.stream_vs_raw(ours)
            assert ratio is not None
            rows.append((f"(a) {ours} throughput >= {TARGET_STREAM_VS_RAW:g}x raw httpx's", ratio,
                         ratio >= TARGET_STREAM_VS_RAW))  # fmt: skip
            ratio = self.request_vs_raw(ours)
            rows.append((f"(b) {ours} time per request <= {TARGET_REQUEST_VS_RAW:g}x raw httpx's", ratio,
                         ratio <= TARGET_REQUEST_VS_RAW))  # fmt: skip
            ratio = self.faster_than_openai(ours)
            rows.append((f"(c) {ours} {self.streams} streams >= {TARGET_CONCURRENT_VS_OPENAI:g}x faster than openai",
                         ratio, None if ratio is None else ratio >= TARGET_CONCURRENT_VS_OPENAI))  # fmt: skip
        return rows

    def render(self, header: str) -> str:
        head = (
            "contender",
            f"(a) 1 stream, {self.truth.stream_chunks:,} chunks",
            "vs raw",
            f"(b) {self.requests:,} x {self.truth.short_chunks}-chunk requests",
            "vs raw",
            f"(c) {self.streams} concurrent streams",
            "openai / this",
            "(c) peak RSS",
        )
        rows: list[tuple[str, ...]] = []
        for name in self.measured:
            faster = self.faster_than_openai(name)
            rows.append(
                (
                    LABELS[name],
                    f"{self.chunks_per_s(name):,.0f} chunks/s ({self.stream_s[name] * 1e3:.1f} ms)",
                    f"{self.stream_vs_raw(name):.2f}x",
                    f"{self.us_per_request(name):,.0f} us/request",
                    f"{self.request_vs_raw(name):.2f}x",
                    f"{self.concurrent_s(name):.2f} s",
                    "-" if faster is None else f"{faster:.1f}x",
                    f"{self.peak_rss(name):.1f} MiB",
                )
            )
        skipped = {LABELS[name]: why for name, why in self.skipped.items()}
        imports = self.imports_ms
        lines = [header, "", *table(head, rows, skipped), ""]
        lines.append(
            f"(d) import time (fresh interpreter without click/pygments/rich, best of {self.import_repeats}, "
            f"beyond a bare start of "
            f"{imports['bare_start']:.1f} ms): " + ", ".join(f"{module} {imports[module]:.1f} ms" for module in IMPORTS)
        )
        lines += ["", *target_lines(self.targets(), self.backend)]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        measured = self.measured
        return {
            "backend": self.backend,
            "rounds": self.rounds,
            "floor": "aiter_bytes" if _floor_bytes else "aiter_lines",
            "skipped": self.skipped,
            "stream": {
                "chunks": self.truth.stream_chunks,
                "best_of_requests_per_round": self.repeats,
                "seconds": {n: self.stream_s[n] for n in measured},
                "chunks_per_s": {n: self.chunks_per_s(n) for n in measured},
            },
            "sequential": {
                "requests": self.requests,
                "chunks_per_request": self.truth.short_chunks,
                "seconds": {n: self.sequential_s[n] for n in measured},
                "us_per_request": {n: self.us_per_request(n) for n in measured},
            },
            "concurrent": {
                "streams": self.streams,
                "runs": {n: self.concurrent[n] for n in measured},
                "best_seconds": {n: self.concurrent_s(n) for n in measured},
                "median_seconds": {n: statistics.median(r["seconds"] for r in self.concurrent[n]) for n in measured},
                "peak_rss_mib": {n: self.peak_rss(n) for n in measured},
            },
            "imports_ms": self.imports_ms,
            "import_repeats": self.import_repeats,
            "targets": [{"target": what, "ratio": ratio, "pass": passed} for what, ratio, passed in self.targets()],
        }


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _versions() -> str:
    import httpx

    import anyagent_httpx

    parts = [f"anyagent {anyagent_httpx.__version__}", f"httpx {httpx.__version__}"]
    try:
        import openai
    except ImportError:
        parts.append("openai not installed")
    else:
        parts.append(f"openai {openai.__version__}")
    return ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds of each workload (default 3, quick 1)")
    parser.add_argument("--quick", action="store_true", help="smaller counts, one round: a smoke run, noisy figures")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio", help="the clients' event loop")
    parser.add_argument("--floor-bytes", action="store_true", help="raw httpx splits aiter_bytes() by hand")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--worker", choices=tuple(LABELS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--streams", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--digest", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global _floor_bytes
    _floor_bytes = args.floor_bytes
    if args.worker:
        return worker_main(args)

    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    repeats = 2 if args.quick else 5
    requests = 200 if args.quick else 1000
    streams = 20 if args.quick else 100
    import_repeats = 3 if args.quick else 7

    contenders = make_contenders()
    skipped = {name: why for name, c in contenders.items() if (why := c.unavailable(args.backend)) is not None}
    running = [c for name, c in contenders.items() if name not in skipped]
    truth = Truth.build()
    report = Report(args.backend, rounds, repeats, requests, streams, import_repeats, truth, skipped)

    with LoopbackServer() as server:
        # (c) first, while this process is still small (see worker_main).
        for _ in range(rounds):
            for contender in running:
                run = run_concurrent(contender.name, server.port, streams, args.backend, truth.stream_digest)
                report.concurrent.setdefault(contender.name, []).append(run)
                _progress(f"(c) {contender.name}: {run['seconds']:.2f} s, peak RSS {run['rss_peak_mib']:.1f} MiB")
        truth.add_short()
        import anyio

        report.stream_s, report.sequential_s = anyio.run(
            lambda: in_process(running, server.base_url, truth, rounds=rounds, repeats=repeats, requests=requests),
            backend=args.backend,
        )
        _progress(f"(a), (b): {', '.join(report.measured)} done, every text as expected")
    report.imports_ms = import_times(import_repeats)

    floor = "aiter_bytes() split by hand" if _floor_bytes else "aiter_lines()"
    header = (
        f"request -> streamed body -> final text; loopback HTTP/1.1 server in its own process; clients on "
        f"{args.backend}; best of {rounds} round(s)\n"
        f"(a) best of {repeats} requests a round; (b) all requests / their count; (c) a fresh interpreter per "
        f"contender and round, best wall time, highest peak RSS (ru_maxrss); raw httpx reads {floor}\n"
        f"Python {platform.python_version()} ({platform.machine()}, {os.cpu_count()} CPUs), {_versions()}"
    )
    print(report.render(header), flush=True)
    if args.json is not None:
        data = {"python": platform.python_version(), "machine": platform.machine(), "versions": _versions()}
        args.json.write_text(json.dumps(data | report.to_json(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
