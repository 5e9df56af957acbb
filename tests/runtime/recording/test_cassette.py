"""The cassette's value types and file format: round trips, readable text, validation errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_httpx._errors import CassetteError
from anyagent_httpx._recording import Cassette, Exchange, RecordedRequest, RecordedResponse
from tests.runtime.recording.support import URL, exchange

pytestmark = pytest.mark.anyio


# Headers known to be safe in requests and responses alike: any other header's value is redacted.
header_names = st.sampled_from(
    ["Content-Type", "content-type", "Cache-Control", "Connection", "content-encoding", "Transfer-Encoding"]
)
header_lists = st.lists(st.tuples(header_names, st.text(max_size=30)), max_size=5)
chunk_lists = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.binary(min_size=1, max_size=1),
        st.text(max_size=20).map(lambda t: t.encode("utf-8")),
        st.just(b"\xe2\x82"),  # half of a UTF-8 sequence
        st.just(b""),
    ),
    max_size=8,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
canonical_bodies = st.one_of(
    st.just(b""),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode("utf-8")),
    st.text().filter(lambda t: not _is_json(t)).map(lambda t: t.encode("utf-8")),
    st.binary().filter(lambda b: not _is_utf8(b)),
)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@st.composite
def exchanges(draw: st.DrawFn, bodies: st.SearchStrategy[bytes] = canonical_bodies) -> Exchange:
    chunks = draw(chunk_lists)
    timings = draw(
        st.just(())
        | st.lists(
            st.floats(min_value=0, max_value=1e4, allow_nan=False, allow_infinity=False),
            min_size=len(chunks),
            max_size=len(chunks),
        )
    )
    return Exchange(
        RecordedRequest(
            draw(st.sampled_from(["GET", "POST", "DELETE"])),
            draw(st.sampled_from([URL, "https://api.example.com/v1/models?api-version=2024-10-01", "http://h/"])),
            draw(header_lists),
            draw(bodies),
        ),
        RecordedResponse(draw(st.integers(100, 599)), draw(header_lists), chunks, timings),
    )


@given(st.lists(exchanges(), max_size=4))
def test_chunks_headers_and_bodies_round_trip_exactly(recorded: list[Exchange]) -> None:
    cassette = Cassette(recorded)
    text = cassette.dumps()
    assert Cassette.loads(text) == cassette
    assert Cassette.loads(text).dumps() == text
    lines = text.split("\n")
    assert lines[-1] == ""
    assert len(lines) == len(recorded) + 2
    for line in lines[1:-1]:
        obj = json.loads(line)
        assert (list(obj), list(obj["request"]), list(obj["response"])) == (
            ["request", "response"],
            ["body", "headers", "method", "url"],
            ["chunks", "headers", "status", "timings"],
        )


@given(st.lists(exchanges(bodies=st.binary(max_size=60)), max_size=3))
def test_any_body_is_written_the_same_way_again(recorded: list[Exchange]) -> None:
    text = Cassette(recorded).dumps()
    again = Cassette.loads(text)
    assert again.dumps() == text
    for before, after in zip(recorded, again.exchanges, strict=True):
        assert after.response == before.response
        assert (after.request.method, after.request.url, after.request.headers) == (
            before.request.method,
            before.request.url,
            before.request.headers,
        )
        if before.request.body and _is_json(before.request.body.decode("utf-8", "replace")):
            assert json.loads(after.request.body) == json.loads(before.request.body)


def test_the_file_shows_bodies_and_chunks_readably(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    Cassette(
        [
            exchange([b"data: x\n\n", b"\xff\x00", b""], body=b'{"b":1,"a":[true,null]}'),
            exchange(body=b"not json"),
            exchange(body=b"", method="GET"),
            exchange(body=b'{"text":"x"}'),
            exchange(body=b"null"),
        ]
    ).dump(path)
    header, *lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(header) == {"anyagent_cassette": 1, "recorded_with": "anyagent 0.1.0"}
    first = json.loads(lines[0])
    assert first["request"]["body"] == {"b": 1, "a": [True, None]}
    assert '"body":{"b":1,"a":[true,null]}' in lines[0]  # the body's own key order is kept
    assert first["response"]["chunks"] == ["data: x\n\n", {"base64": base64.b64encode(b"\xff\x00").decode()}, ""]
    assert list(first) == ["request", "response"]
    assert list(first["request"]) == ["body", "headers", "method", "url"]
    assert list(first["response"]) == ["chunks", "headers", "status", "timings"]
    assert [json.loads(line)["request"]["body"] for line in lines[1:]] == [
        {"text": "not json"},
        None,
        {"text": '{"text":"x"}'},  # shaped like the wrapper: kept as text, so it loads back the same
        {"text": "null"},
    ]
    loaded = Cassette.load(path)
    assert [e.request.body for e in loaded.exchanges] == [
        b'{"b":1,"a":[true,null]}',
        b"not json",
        b"",
        b'{"text":"x"}',
        b"null",
    ]


@pytest.mark.parametrize("body", [b'{"t":1e400}', b'{"t":NaN}', b"[" * 100_000, b'{"t":-Infinity}'])
def test_bodies_json_cannot_write_back_are_kept_as_text(body: bytes) -> None:
    text = Cassette([exchange(body=body)]).dumps()
    assert json.loads(text.split("\n")[1])["request"]["body"] == {"text": body.decode()}
    assert Cassette.loads(text).exchanges[0].request.body == body


def test_load_then_dump_is_byte_for_byte(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    Cassette([exchange([b"a", b"\x80b", "é".encode()]), exchange(body=b"x\xffy")]).dump(first)
    Cassette.load(first).dump(second)
    assert second.read_bytes() == first.read_bytes()
    assert not [p.name for p in tmp_path.iterdir() if p.name not in ("a.jsonl", "b.jsonl")]  # no temp files


@pytest.mark.parametrize(
    ("lines", "line", "fault"),
    [
        ([], None, "empty, expected the header line"),
        (["{not json"], 1, "not valid JSON"),
        (['{"hello": 1}'], 1, "not a cassette"),
        (['{"anyagent_cassette": 2, "recorded_with": "x"}'], 1, "unsupported cassette version 2"),
        (['{"anyagent_cassette": "1", "recorded_with": "x"}'], 1, "must be an integer version"),
        (['{"anyagent_cassette": 1}'], 1, "the header has no 'recorded_with'"),
        (["HEADER", "[1, 2]"], 2, "an exchange must be a JSON object"),
        (["HEADER", '{"request": {}}'], 2, "the exchange has no 'response'"),
        (["HEADER", "GOOD", "GOOD", '{"request": {}, "response": {}}'], 4, "request has no 'body'"),
        (["HEADER", 'REPLACE:status="200"'], 2, 'response.status must be an integer, got "200"'),
        (["HEADER", "REPLACE:status=true"], 2, "response.status must be an integer, got true"),
        (["HEADER", 'REPLACE:chunks=["a", 1]'], 2, 'response.chunks[1] must be a string or {"base64": ...}, got 1'),
        (["HEADER", 'REPLACE:chunks=[{"base64": "!!"}]'], 2, "response.chunks[0].base64 is not valid base64"),
        (["HEADER", "REPLACE:timings=[0.1, 0.2]"], 2, "response has 1 chunks but 2 timings"),
        (["HEADER", "REPLACE:timings=[-1]"], 2, "response.timings[0] must be a non-negative number"),
        (["HEADER", 'REPLACE:headers=[["a"]]'], 2, "response.headers[0] must be a [name, value] pair"),
        (["HEADER", 'REPLACE:extra="x"'], 2, "response has unknown key(s) 'extra'"),
        (["HEADER", "GOOD", "\u2028not json"], 3, "not valid JSON"),
        (["HEADER", 'SUB:"status":200=>"status":1e400'], 2, "not valid JSON: 1e400 is out of range"),
        (["HEADER", "[" * 100_000], 2, "not valid JSON"),
        (['{"anyagent_cassette": 1, "recorded_with": "x", "meta": []}'], 1, "the header.meta must be"),
        (['{"anyagent_cassette": 1, "recorded_with": "x", "meta": {"cwd": 1}}'], 1, "header.meta.cwd must be a string"),
        (['{"anyagent_cassette": 1, "recorded_with": "x", "other": 1}'], 1, "unknown key(s) 'other'"),
    ],
)
def test_malformed_cassettes_name_the_file_line_and_fault(
    tmp_path: Path, lines: list[str], line: int | None, fault: str
) -> None:
    good = Cassette([exchange()]).dumps().split("\n")
    resolved = []
    for text in lines:
        if text == "HEADER":
            text = good[0]
        elif text == "GOOD":
            text = good[1]
        elif text.startswith("SUB:"):
            old, _, new = text.removeprefix("SUB:").partition("=>")
            text = good[1].replace(old, new)
        elif text.startswith("REPLACE:"):
            key, _, value = text.removeprefix("REPLACE:").partition("=")
            obj = json.loads(good[1])
            obj["response"][key] = json.loads(value)
            text = json.dumps(obj)
        resolved.append(text)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(resolved) + "\n", encoding="utf-8")
    with pytest.raises(CassetteError) as info:
        Cassette.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line {line}: " if line is not None else f"{path}: ")
    assert fault in message


def test_a_file_that_cannot_be_read_is_a_cassette_error(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="cannot read the cassette"):
        Cassette.load(tmp_path / "absent.jsonl")
    (tmp_path / "latin.jsonl").write_bytes(b'{"anyagent_cassette":1,"recorded_with":"x"}\n\xff\n')
    with pytest.raises(CassetteError, match=r"latin\.jsonl, line 2: not valid UTF-8"):
        Cassette.load(tmp_path / "latin.jsonl")


def test_meta_is_kept_in_the_header_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "meta.jsonl"
    Cassette([exchange()], meta={"cwd": "/home/é/project"}).dump(path)
    header = json.loads(path.read_text(encoding="utf-8").split("\n")[0])
    assert header["meta"] == {"cwd": "/home/é/project"}
    loaded = Cassette.load(path)
    assert loaded.meta == {"cwd": "/home/é/project"}
    assert loaded == Cassette([exchange()], meta={"cwd": "/home/é/project"})
    assert "meta" not in json.loads(Cassette([exchange()]).dumps().split("\n")[0])  # none written when empty
    assert Cassette.loads(Cassette([exchange()]).dumps()).meta == {}
    with pytest.raises(TypeError, match="maps strings to strings"):
        Cassette([], meta={"cwd": 1})  # type: ignore[dict-item]


def test_value_types_refuse_wrong_types() -> None:
    with pytest.raises(TypeError):
        RecordedResponse(200, [], ["text"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="2 timings for 1 chunks"):
        RecordedResponse(200, [], [b"x"], [0.0, 1.0])
    with pytest.raises(ValueError, match="not negative"):
        RecordedResponse(200, [], [b"x"], [-0.5])
    with pytest.raises(TypeError):
        Cassette([object()])  # type: ignore[list-item]


def test_the_documented_example_is_a_cassette() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "recording.md").read_text(encoding="utf-8")
    example = text.split("<!-- example -->\n```json\n")[1].split("```\n<!-- /example -->")[0]
    (recorded,) = Cassette.loads(example).exchanges
    assert recorded.response.chunks[1] == "data: €".encode()[:-1]  # a chunk ending inside a UTF-8 sequence
    # What dump writes for it is the example, line for line (the header names the running version).
    assert Cassette.loads(example).dumps().split("\n")[1:] == example.split("\n")[1:]
