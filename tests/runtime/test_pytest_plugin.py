"""The pytest plugin, run on small inline test files in a pytest subprocess (pytester)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import anyagent_httpx
from anyagent_httpx._recording import Cassette, Exchange, RecordedRequest, RecordedResponse

# The package under test, wherever it is imported from: the subprocess must load this plugin.
SRC = Path(anyagent_httpx.__file__).resolve().parents[1]
SSE = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n'
ARGS = ("-W", "error", "--strict-markers", "-p", "no:cacheprovider")

# A loopback HTTP server (standard library, in a thread) serving a fixed SSE body in two writes.
SERVER = """
import http.server
import threading

import pytest

SSE = {sse!r}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(SSE)))
        self.send_header("Set-Cookie", "sid=server-cookie-0123; Path=/")
        self.end_headers()
        self.wfile.write(SSE[:20])
        self.wfile.flush()
        self.wfile.write(SSE[20:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server_url(anyagent_cassette):
    if anyagent_cassette.mode == "replay":
        yield "http://replay.invalid:1"  # replay must not touch the network
        return
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
""".replace("{sse!r}", repr(SSE))

CHAT_TEST = """
@pytest.mark.anyio
async def test_chat(anyagent_cassette, server_url):
    async with anyagent_cassette.http_client(base_url=server_url + "/v1") as http:
        response = await http.post(
            "/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi, my-extra-secret-42"}]},
            headers={"Authorization": "Bearer sk-inner-secret-123"},
        )
    assert response.status_code == 200
    assert response.content == SSE
"""


ONE_BACKEND = """
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"
"""


@pytest.fixture(autouse=True)
def _plugin_under_test(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(SRC))
    pytester.makeconftest(ONE_BACKEND)  # cassette names and counts do not depend on the backends


def exchange(path: str, chunks: tuple[bytes, ...] = (SSE,)) -> Exchange:
    return Exchange(
        RecordedRequest("POST", f"http://127.0.0.1:8020{path}", [("content-type", "application/json")], b"{}"),
        RecordedResponse(200, [("content-type", "text/event-stream")], chunks, [0.0] * len(chunks)),
    )


def test_replays_a_cassette_under_asyncio_and_trio(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(params=["asyncio", "trio"])
        def anyio_backend(request):
            return request.param
        """
    )
    pytester.makepyfile(
        test_replay="""
        import httpx
        import pytest

        @pytest.mark.anyio
        @pytest.mark.anyagent_cassette("recorded/chat.jsonl")
        async def test_chat(anyagent_cassette):
            assert anyagent_cassette.mode == "replay"
            assert anyagent_cassette.path.name == "chat.jsonl"
            assert type(anyagent_cassette.transport).__name__ == "ReplayTransport"
            async with anyagent_cassette.http_client(base_url="http://anywhere.invalid/v1") as http:
                async with http.stream("POST", "/chat/completions", json={}) as response:
                    chunks = [chunk async for chunk in response.aiter_raw()]
            assert chunks == [b"data: one\\n\\n", b"data: [DONE]\\n\\n"]
        """
    )
    (pytester.path / "recorded").mkdir()
    Cassette([exchange("/v1/chat/completions", (b"data: one\n\n", b"data: [DONE]\n\n"))]).dump(
        pytester.path / "recorded" / "chat.jsonl"
    )
    result = pytester.runpytest_subprocess(*ARGS)
    result.assert_outcomes(passed=2)


def test_a_missing_cassette_fails_and_says_how_to_record_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_missing="""
        def test_needs_one(anyagent_cassette):
            raise AssertionError("not reached")
        """
    )
    result = pytester.runpytest_subprocess(*ARGS)
    result.assert_outcomes(errors=1)
    expected = pytester.path / "cassettes" / "test_missing" / "test_needs_one.jsonl"
    how = "`pytest --anyagent-record=missing test_missing.py::test_needs_one`"
    result.stdout.fnmatch_lines([f"*cassette {expected} does not exist; record it * {how}"])
    assert "not reached" not in result.stdout.str()
    assert not expected.exists()


def test_record_all_writes_a_redacted_cassette_that_then_replays(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_live=SERVER
        + CHAT_TEST.replace(
            "@pytest.mark.anyio\n",
            "@pytest.mark.anyio\n"
            '@pytest.mark.anyagent_cassette("cassettes/chat.jsonl", secrets=["my-extra-secret-42"])\n',
        )
    )
    result = pytester.runpytest_subprocess("--anyagent-record=all", *ARGS)
    result.assert_outcomes(passed=1)
    path = pytester.path / "cassettes" / "chat.jsonl"
    data = path.read_bytes()
    for secret in (b"sk-inner-secret-123", b"my-extra-secret-42", b"server-cookie-0123"):
        assert secret not in data
    (recorded,) = Cassette.load(path).exchanges
    assert recorded.request.url.startswith("http://127.0.0.1:")
    assert recorded.request.url.endswith("/v1/chat/completions")
    assert json.loads(recorded.request.body)["messages"][0]["content"] == "hi, <redacted>"
    assert recorded.response.body == SSE
    assert not any(name.lower() in ("authorization", "set-cookie") for name, _ in recorded.request.headers)

    # Replayed now, with no server: the fixture above hands out an unreachable URL in replay mode.
    result = pytester.runpytest_subprocess(*ARGS)
    result.assert_outcomes(passed=1)
    assert path.read_bytes() == data


def test_record_missing_records_only_the_cassettes_that_do_not_exist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_some=SERVER + CHAT_TEST + CHAT_TEST.replace("test_chat", "test_other"))
    existing = pytester.path / "cassettes" / "test_some" / "test_chat.jsonl"
    existing.parent.mkdir(parents=True)
    Cassette([exchange("/v1/chat/completions")]).dump(existing)
    before = existing.read_bytes()
    result = pytester.runpytest_subprocess("--anyagent-record=missing", *ARGS)
    result.assert_outcomes(passed=2)
    assert existing.read_bytes() == before
    (recorded,) = Cassette.load(existing.with_name("test_other.jsonl")).exchanges
    assert recorded.response.body == SSE


def test_unplayed_exchanges_fail_a_test_that_passed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_unplayed="""
        import pytest

        @pytest.mark.anyio
        @pytest.mark.anyagent_cassette("two.jsonl")
        async def test_sends_one(anyagent_cassette):
            async with anyagent_cassette.http_client() as http:
                await http.post("http://h/v1/chat/completions", json={})

        @pytest.mark.anyio
        @pytest.mark.anyagent_cassette("two.jsonl")
        async def test_fails_on_its_own(anyagent_cassette):
            raise AssertionError("its own failure")
        """
    )
    Cassette([exchange("/v1/chat/completions"), exchange("/v1/embeddings")]).dump(pytester.path / "two.jsonl")
    result = pytester.runpytest_subprocess(*ARGS)
    # The first passes its call and errors at teardown; the second fails without a second error.
    result.assert_outcomes(passed=1, errors=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_sends_one*",
            "*two.jsonl: 1 of 2 exchanges were not played; the first is POST /v1/embeddings*",
        ]
    )
    assert "ERROR at teardown of test_fails_on_its_own" not in result.stdout.str()


def test_default_paths_and_the_marker_path(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_names="""
        import pytest

        @pytest.mark.parametrize("name", ["a/b", "c d", "é"])
        def test_param(anyagent_cassette, name):
            assert anyagent_cassette.mode == "record"

        @pytest.mark.anyagent_cassette("data/named.jsonl")
        def test_marked(anyagent_cassette, request):
            assert anyagent_cassette.path == request.path.parent / "data" / "named.jsonl"
        """
    )
    result = pytester.runpytest_subprocess("--anyagent-record=all", *ARGS)
    result.assert_outcomes(passed=4)
    folder = pytester.path / "cassettes" / "test_names"
    assert sorted(p.name for p in folder.iterdir()) == [
        "test_param_a_b.jsonl",
        "test_param_c_d.jsonl",
        "test_param_xe9.jsonl",  # pytest escapes non-ASCII ids
    ]
    assert (pytester.path / "data" / "named.jsonl").exists()
    assert Cassette.load(folder / "test_param_a_b.jsonl").exchanges == ()


def test_the_option_and_the_marker_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers", *ARGS)
    result.stdout.fnmatch_lines(["@pytest.mark.anyagent_cassette(path, *, secrets=()):*"])
    result = pytester.runpytest_subprocess("--help", *ARGS)
    result.stdout.fnmatch_lines(["*--anyagent-record={none,missing,all}*"])
    result = pytester.runpytest_subprocess("--anyagent-record=sometimes", *ARGS)
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*invalid choice: 'sometimes'*"])


def test_a_malformed_cassette_fails_with_its_file_and_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad=textwrap.dedent(
            """
            import pytest

            @pytest.mark.anyagent_cassette("bad.jsonl")
            def test_bad(anyagent_cassette):
                pass
            """
        )
    )
    (pytester.path / "bad.jsonl").write_text('{"anyagent_cassette":1,"recorded_with":"x"}\n{oops\n')
    result = pytester.runpytest_subprocess(*ARGS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{pytester.path / 'bad.jsonl'}, line 2: not valid JSON*"])


def test_a_misused_marker_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_misused="""
        import pytest

        @pytest.mark.anyagent_cassette("a.jsonl", "b.jsonl")
        def test_two_paths(anyagent_cassette):
            pass

        @pytest.mark.anyagent_cassette("a.jsonl", secrets="one-string")
        def test_one_string(anyagent_cassette):
            pass
        """
    )
    result = pytester.runpytest_subprocess("--anyagent-record=all", *ARGS)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*with one path*", "*secrets must be a list of strings, not one string*"])
    assert not (pytester.path / "a.jsonl").exists()
