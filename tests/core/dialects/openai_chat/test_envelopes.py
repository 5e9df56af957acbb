"""Error envelopes (``_dialects/_openai_chat/_envelopes.py``): every shape of HTTP error body in
SERVERS.md §6."""

from __future__ import annotations

from typing import Any

import pytest

from anyagent_core import (
    ServerError,
)
from tests.core.dialects.openai_chat.helpers import final, only
from tests.helpers import run_response

ERROR_BODIES = [
    (  # OpenAI, vLLM >= 0.10.1, Ollama: nested envelope
        429,
        b'{"error":{"message":"Rate limit reached","type":"tokens","param":null,"code":"rate_limit_exceeded"}}',
        ("Rate limit reached", "tokens", "rate_limit_exceeded"),
    ),
    (  # vLLM < 0.10.1: flat
        400,
        b'{"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}',
        ("too long", "BadRequestError", 400),
    ),
    (  # llama.cpp, with extra fields
        400,
        b'{"error":{"code":400,"message":"exceeds context","type":"exceed_context_size_error",'
        b'"n_prompt_tokens":9,"n_ctx":8}}',
        ("exceeds context", "exceed_context_size_error", 400),
    ),
    (  # OpenRouter: integer code and metadata
        402,
        b'{"error":{"code":402,"message":"Insufficient credits","metadata":{"x":1}}}',
        ("Insufficient credits", None, 402),
    ),
    (  # Google: an array around the envelope
        503,
        b'[{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}]',
        ("The model is overloaded.", "UNAVAILABLE", 503),
    ),
    (  # Ollama native style: error as a string
        404,
        b'{"error":"model \'x\' not found"}',
        ("model 'x' not found", None, None),
    ),
    (  # FastAPI
        422,
        b'{"detail":"Not authenticated"}',
        ("Not authenticated", None, None),
    ),
    (  # FastAPI validation errors: structured detail is kept as JSON text
        422,
        b'{"detail":[{"loc":["body","model"],"msg":"field required"}]}',
        ('[{"loc": ["body", "model"], "msg": "field required"}]', None, None),
    ),
    (  # a gateway's HTML page
        502,
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", None, None),
    ),
    (  # broken JSON is shown as text, not a protocol error
        500,
        b'{"error": {"message": "trunc',
        ('{"error": {"message": "trunc', None, None),
    ),
    (  # an error sent as an event stream with a non-200 status
        500,
        b'data: {"error":{"message":"engine dead","type":"server_error","code":500}}\n\n',
        ("engine dead", "server_error", 500),
    ),
    (500, b"", ("HTTP 500 with an empty body", None, None)),
]


@pytest.mark.parametrize(("status", "body", "expected"), ERROR_BODIES)
@pytest.mark.parametrize("content_type", ["application/json", "text/html", ""])
def test_http_error_bodies(status: int, body: bytes, expected: tuple[Any, ...], content_type: str) -> None:
    events = run_response([body], status=status, content_type=content_type)
    errors = only(events, ServerError)
    assert len(errors) == 1
    error = errors[0]
    assert (error.message, error.type, error.code) == expected
    assert error.status == status
    assert error.source == "http"
    assert error.body == body.decode()
    result = final(events)
    assert result.error == error
    assert result.message.content == ()
    assert not result.truncated


def test_error_body_with_a_bom() -> None:
    body = b'\xef\xbb\xbf{"error":{"message":"context too long","type":"invalid_request_error","code":400}}'
    error = final(run_response([body], status=400, content_type="application/json")).error
    assert error is not None and (error.message, error.type, error.code) == (
        "context too long",
        "invalid_request_error",
        400,
    )
