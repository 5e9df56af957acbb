"""Redaction: no secret reaches a cassette, whatever carries it."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_httpx._recording import Cassette, RecordingTransport, redact_exchange
from tests.runtime.recording.support import URL, exchange, mock, raw_and_decoded

pytestmark = pytest.mark.anyio


SECRET = "sk-live-0123456789abcdef"
EXTRA = "hunter2-extra-secret"
COOKIE = "session-cookie-value-42"
GOOG = "AIzaGoogleKey987654321"
QUERY_KEY = "query-key-value-777"
SIG = "signature-value-555"
SET_COOKIE = "server-session-abc123"


async def test_no_secret_reaches_the_file(tmp_path: Path) -> None:
    body = f'data: {{"echo":"{SECRET}","other":"{EXTRA}"}}\n\n'.encode()
    cut = body.index(SECRET.encode()) + 5
    chunks = [body[:cut], body[cut:], b"\xff" + EXTRA.encode() + b"\xfe"]  # split inside a secret; not UTF-8
    transport, _, _ = mock(
        chunks,
        headers=[
            ("content-type", "text/event-stream"),
            ("set-cookie", f"sid={SET_COOKIE}; Path=/; HttpOnly"),
            ("content-length", str(sum(map(len, chunks)))),
        ],
    )
    recorder = RecordingTransport(transport, secrets=[EXTRA])
    async with httpx.AsyncClient(transport=recorder) as client:
        raw, _ = await raw_and_decoded(
            client,
            "POST",
            f"{URL}?api-version=2024-10-01&key={QUERY_KEY}&sig={SIG}",
            json={"messages": [{"role": "user", "content": f"my key is {SECRET} and {EXTRA}"}]},
            headers={
                "Authorization": f"Bearer {SECRET}",
                "Cookie": f"sid={COOKIE}",
                "x-goog-api-key": GOOG,
                "X-Request-Id": "req-1",
            },
        )
    assert raw == chunks  # the code under test saw the real bytes
    path = tmp_path / "c.jsonl"
    recorder.save(path)
    data = path.read_bytes()
    for secret in (SECRET, EXTRA, COOKIE, GOOG, QUERY_KEY, SIG, SET_COOKIE):
        assert secret.encode() not in data
        assert base64.b64encode(secret.encode()) not in data
    lowered = data.lower()
    for name in (b"authorization", b"cookie", b"x-goog-api-key", b"set-cookie"):
        assert b'"' + name + b'"' not in lowered
    (recorded,) = Cassette.load(path).exchanges
    assert recorded.request.url == f"{URL}?api-version=2024-10-01"
    assert ("X-Request-Id", "req-1") in recorded.request.headers
    assert json.loads(recorded.request.body) == {
        "messages": [{"role": "user", "content": "my key is <redacted> and <redacted>"}]
    }
    # The secret split across two chunks becomes one placeholder, in the chunk where it began.
    assert recorded.response.chunks[0].endswith(b'"echo":"<redacted>')
    assert recorded.response.chunks[1].startswith(b'","other":"<redacted>"}')
    assert recorded.response.chunks[2] == b"\xff<redacted>\xfe"
    assert ("content-length", str(len(recorded.response.body))) in recorded.response.headers


def test_redaction_rules() -> None:
    recorded = exchange(
        [b"x"],
        url="https://user:pass-word-99@gw.example.com/v1/chat?api-version=1&access_token=tok-123456&Signature=s&x=1#frag",
        request_headers=[
            ("Proxy-Authorization", "Basic " + base64.b64encode(b"alice:open-sesame").decode()),
            ("api-key", "azure-key-000"),
            ("X-Secret-Thing", "s"),
            ("X-Password", "p"),
            ("Ocp-Apim-Subscription-Key", "apim-key-111"),
            ("Accept", "text/event-stream"),
        ],
        headers=[("Set-Cookie", "a=b"), ("x-ratelimit-remaining", "9")],
        body=b'{"note":"open-sesame, pass-word-99, apim-key-111, azure-key-000","short":"s"}',
    )
    redacted = redact_exchange(recorded)
    assert redacted.request.url == "https://gw.example.com/v1/chat?api-version=1&x=1"
    assert redacted.request.headers == (("Accept", "text/event-stream"),)
    assert redacted.response.headers == (("x-ratelimit-remaining", "9"),)
    # Values of removed headers are replaced elsewhere too; too short ones ("s") would hit ordinary text.
    assert json.loads(redacted.request.body) == {
        "note": "<redacted>, <redacted>, <redacted>, <redacted>",
        "short": "s",
    }
    assert redact_exchange(redacted) == redacted


def test_a_header_not_known_to_be_safe_keeps_only_its_name() -> None:
    gateway = "gw-credential-0123456789"  # named like nothing secret, and a credential all the same
    recorded = exchange(
        [b'{"echo": "' + gateway.encode() + b'"}'],
        request_headers=[("X-Tenant-Route", gateway), ("X-Feature", "enabled"), ("User-Agent", "anyagent/1")],
        headers=[("X-Upstream", "region-1"), ("Retry-After", "2"), ("X-RateLimit-Reset", "3")],
        body=b'{"model": "m", "feature": "enabled"}',
    )
    redacted = redact_exchange(recorded)
    assert redacted.request.headers == (
        ("X-Tenant-Route", "<redacted>"),
        ("X-Feature", "<redacted>"),
        ("User-Agent", "anyagent/1"),
    )
    assert redacted.response.headers == (("X-Upstream", "<redacted>"), ("Retry-After", "2"), ("X-RateLimit-Reset", "3"))
    # A credential-length value is searched for elsewhere; a short one ("enabled") is not.
    assert gateway.encode() not in b"".join(redacted.response.chunks)
    assert json.loads(redacted.request.body) == {"model": "m", "feature": "enabled"}
    assert redact_exchange(redacted) == redacted


@given(
    st.binary(max_size=60),
    st.from_regex(r"\A[a-z0-9-]{6,12}\Z"),
    st.lists(st.integers(0, 100), max_size=3),
    st.lists(st.integers(0, 100), max_size=6),
)
def test_secrets_split_anywhere_across_chunks_are_replaced(
    data: bytes, secret: str, insert_at: list[int], cut_at: list[int]
) -> None:
    body = bytearray(data)
    for position in insert_at:
        where = position % (len(body) + 1)
        body[where:where] = secret.encode()
    joined = bytes(body)
    cuts = sorted({c % (len(joined) + 1) for c in cut_at} | {len(joined)})
    chunks = [joined[a:b] for a, b in zip([0, *cuts], cuts, strict=False)]
    redacted = redact_exchange(exchange(chunks, headers=[]), [secret]).response.chunks
    assert len(redacted) == len(chunks)
    assert b"".join(redacted) == joined.replace(secret.encode(), b"<redacted>")
    # A chunk that holds no byte of any occurrence is left exactly as it was.
    spans = [m.span() for m in re.finditer(re.escape(secret.encode()), joined)]
    position = 0
    for before, after in zip(chunks, redacted, strict=True):
        start, end = position, position + len(before)
        position = end
        if not any(s < end and e > start for s, e in spans):
            assert after == before


def test_a_short_secret_is_replaced_only_where_it_stands_alone() -> None:
    # A one-character key (a local server's "k") must not take every "k" out of the recording.
    chunks = [
        b'data: {"choices":[{"delta":{"content":"ok, kind kiwi"}}]}\n\n',
        b'data: {"echo": "k", "x": "k',
        b'"}\n\n',
    ]
    recorded = exchange(chunks, headers=[], body=b'{"model":"m","note":"key k."}')
    redacted = redact_exchange(recorded, ["k"])
    assert redacted.response.chunks == (
        chunks[0],
        b'data: {"echo": "<redacted>", "x": "<redacted>',
        b'"}\n\n',
    )
    assert json.loads(redacted.request.body) == {"model": "m", "note": "key <redacted>."}
    assert redact_exchange(redacted, ["k"]) == redacted


def test_secrets_escaped_in_json_are_redacted_too() -> None:
    escaped = json.dumps({"content": SECRET}).replace("s", "\\u0073").encode()  # valid JSON, secret hidden
    redacted = redact_exchange(exchange(body=escaped), [SECRET])
    assert json.loads(redacted.request.body) == {"content": "<redacted>"}
