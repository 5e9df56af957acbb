"""The /embeddings exchange: the request written, responses read (float and base64), and every
malformed answer refused with RemoteProtocolError."""

from __future__ import annotations

import base64
import contextlib
import json
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import Endpoint, LocalProtocolError, RemoteProtocolError, ServerError
from anyagent_core.embeddings import Embeddings, EmbeddingsExchange, cosine, read_embeddings


def body(data: list[Any], **extra: Any) -> bytes:
    return json.dumps({"object": "list", "data": data, **extra}).encode()


def test_the_request_names_the_model_and_inputs_and_carries_the_key() -> None:
    exchange = EmbeddingsExchange(Endpoint(base_url="http://h:1/v1?x=1", api_key="sk-secret"))
    request = exchange.send(["a", "b"], model="emb", dimensions=8)
    assert request.method == "POST" and request.url == "http://h:1/v1/embeddings?x=1"
    assert json.loads(request.body) == {
        "model": "emb",
        "input": ["a", "b"],
        "encoding_format": "float",
        "dimensions": 8,
    }
    assert ("Authorization", "Bearer sk-secret") in request.headers
    assert "sk-secret" not in repr(request)


@pytest.mark.parametrize(
    ("inputs", "kwargs", "problem"),
    [
        ([], {}, "no input"),
        ([""], {}, "non-empty"),
        (["a"], {"dimensions": 0}, "dimensions"),
        (["a"], {"model": ""}, "model"),
    ],
)
def test_bad_requests_are_refused(inputs: list[str], kwargs: dict[str, Any], problem: str) -> None:
    exchange = EmbeddingsExchange(Endpoint(base_url="http://h/v1"))
    with pytest.raises(LocalProtocolError, match=problem):
        exchange.send(inputs, **{"model": "m", **kwargs})


def test_vectors_come_back_in_input_order_whatever_the_response_order() -> None:
    exchange = EmbeddingsExchange(Endpoint(base_url="http://h/v1"))
    exchange.send(["a", "b"], model="m")
    got = exchange.receive(
        200,
        body(
            [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1, 0]}],
            model="m",
            usage={"prompt_tokens": 4, "total_tokens": 4},
        ),
    )
    assert isinstance(got, Embeddings)
    assert got.vectors == ((1.0, 0.0), (0.0, 1.0)) and got.dimensions == 2
    assert got.usage is not None and got.usage.prompt_tokens == 4


@given(st.lists(st.floats(-1e6, 1e6, width=32), min_size=1, max_size=16))
def test_base64_vectors_read_as_the_floats_they_encode(values: list[float]) -> None:
    encoded = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
    got = read_embeddings(body([{"index": 0, "embedding": encoded}]), expected=1)
    assert got.vectors == (tuple(values),)


def test_an_error_status_is_the_servers_error() -> None:
    exchange = EmbeddingsExchange(Endpoint(base_url="http://h/v1"))
    exchange.send(["a"], model="m")
    error = exchange.receive(501, b'{"error": {"message": "This server does not support embeddings", "type": "x"}}')
    assert isinstance(error, ServerError) and error.status == 501 and "embeddings" in error.message


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"not json", "not JSON"),
        (b'{"data": 1}', "no 'data'"),
        (body([{"index": 0, "embedding": [1.0]}]), "1 vectors for 2 inputs"),
        (body([{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]), "repeated index"),
        (body([{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]), "different lengths"),
        (body([{"index": 0, "embedding": ["x"]}, {"index": 1, "embedding": [1.0]}]), "not a number"),
        (body([{"index": 0, "embedding": "!!!"}, {"index": 1, "embedding": [1.0]}]), "base64"),
        (body([{"index": 0}, {"index": 1, "embedding": [1.0]}]), "no 'embedding'"),
        (body([{"index": 0, "embedding": []}, {"index": 1, "embedding": []}]), "empty"),
    ],
)
def test_malformed_answers_raise_remote_protocol_error(raw: bytes, problem: str) -> None:
    exchange = EmbeddingsExchange(Endpoint(base_url="http://h/v1"))
    exchange.send(["a", "b"], model="m")
    with pytest.raises(RemoteProtocolError, match=problem):
        exchange.receive(200, raw)


def test_receive_without_send_is_misuse() -> None:
    with pytest.raises(LocalProtocolError):
        EmbeddingsExchange(Endpoint(base_url="http://h/v1")).receive(200, b"{}")


@given(st.binary(max_size=300))
def test_arbitrary_bodies_read_or_raise_remote_protocol_error(raw: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        read_embeddings(raw)


def test_cosine() -> None:
    assert cosine([1, 0], [1, 0]) == 1.0 and cosine([1, 0], [0, 1]) == 0.0 and cosine([0, 0], [1, 1]) == 0.0
    assert cosine([1, 2], [-1, -2]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="lengths"):
        cosine([1], [1, 2])
