"""The ``/embeddings`` exchange (OpenAI's, which llama.cpp, vLLM, Ollama and LM Studio serve):
a request written, a response read, no I/O.

::

    exchange = EmbeddingsExchange(endpoint)
    request = exchange.send(["first text", "second"], model="nomic-embed-text")
    # ... your I/O performs request, then:
    result = exchange.receive(status, body)  # Embeddings, or ServerError for an error status

Vectors come back in the order of the inputs (the response's ``index`` fields say where each
goes), as ``float`` or as ``base64`` (little-endian float32, OpenAI's compact form). A 200 body
that is not an embeddings response raises ``RemoteProtocolError`` saying what is wrong; an
error status gives the server's ``ServerError``, read as every error body is.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Sequence
from typing import Any, Literal

import attrs

from anyagent_core._config import DEFAULT_CONFIG, Config, Endpoint, chat_url
from anyagent_core._errors import LocalProtocolError, RemoteProtocolError
from anyagent_core._events import Request, ServerError
from anyagent_core._messages import Usage
from anyagent_core._util import snippet
from anyagent_core.value import Value

from ._envelopes import server_error_from_body

__all__ = ["Embeddings", "EmbeddingsExchange"]

EMBEDDINGS_PATH = "/embeddings"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Embeddings(Value):
    """One vector per input, in the inputs' order."""

    vectors: tuple[tuple[float, ...], ...]
    model: str | None = None
    usage: Usage | None = None

    @property
    def dimensions(self) -> int:
        return len(self.vectors[0]) if self.vectors else 0


class EmbeddingsExchange:
    """Writes embeddings requests for ``endpoint`` and reads their responses. It holds no
    state between exchanges beyond the count of inputs last sent (to check the answer)."""

    def __init__(self, endpoint: Endpoint, *, config: Config = DEFAULT_CONFIG, path: str = EMBEDDINGS_PATH) -> None:
        self.endpoint = endpoint
        self.config = config
        self.path = path
        self._expected: int | None = None

    def send(
        self,
        inputs: Sequence[str],
        *,
        model: str,
        dimensions: int | None = None,
        encoding_format: Literal["float", "base64"] = "float",
    ) -> Request:
        """The request for ``inputs`` (at least one, each a non-empty string)."""
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if not texts:
            raise LocalProtocolError("embeddings of no input: give at least one text")
        for index, text in enumerate(texts):
            if type(text) is not str or not text:
                raise LocalProtocolError(f"embeddings input {index} must be a non-empty string, not {text!r}")
        if not model:
            raise LocalProtocolError("embeddings need a model name")
        payload: dict[str, Any] = {"model": model, "input": texts, "encoding_format": encoding_format}
        if dimensions is not None:
            if type(dimensions) is not int or dimensions < 1:
                raise LocalProtocolError(f"dimensions must be a positive integer, not {dimensions!r}")
            payload["dimensions"] = dimensions
        try:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError:
            body = json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")
        headers: list[tuple[str, str]] = [("Content-Type", "application/json"), ("Accept", "application/json")]
        if self.endpoint.api_key:
            headers.append(("Authorization", f"Bearer {self.endpoint.api_key}"))
        if self.config.user_agent:
            headers.append(("User-Agent", self.config.user_agent))
        if self.endpoint.headers:
            replaced = {name.lower() for name, _ in self.endpoint.headers}
            headers = [h for h in headers if h[0].lower() not in replaced]
            headers.extend(self.endpoint.headers)
        self._expected = len(texts)
        url = chat_url(self.endpoint.base_url, self.path)
        return Request(method="POST", url=url, headers=tuple(headers), body=body)

    def receive(self, status: int, body: bytes) -> Embeddings | ServerError:
        """The answer to the last ``send()``: ``Embeddings`` for a 2xx response (checked: one
        finite vector per input, all of one length), the ``ServerError`` of an error status."""
        expected, self._expected = self._expected, None
        if expected is None:
            raise LocalProtocolError("receive() without a request sent")
        if len(body) > self.config.max_body_size:
            raise RemoteProtocolError(f"embeddings response body over {self.config.max_body_size} bytes")
        if not 200 <= status < 300:
            return server_error_from_body(status, body)
        return read_embeddings(body, expected=expected)


def read_embeddings(body: bytes, *, expected: int | None = None) -> Embeddings:
    """An embeddings response body read and checked; ``RemoteProtocolError`` otherwise."""
    try:
        obj = json.loads(body)
    except ValueError as exc:
        raise RemoteProtocolError(f"embeddings response is not JSON: {exc}", snippet=snippet(body)) from None
    if type(obj) is not dict or type(obj.get("data")) is not list:
        raise RemoteProtocolError("embeddings response has no 'data' array", snippet=snippet(body))
    items = obj["data"]
    if expected is not None and len(items) != expected:
        raise RemoteProtocolError(f"embeddings response has {len(items)} vectors for {expected} inputs")
    vectors: list[tuple[float, ...] | None] = [None] * len(items)
    for position, item in enumerate(items):
        if type(item) is not dict:
            raise RemoteProtocolError(f"embeddings data[{position}] is not an object")
        index = item.get("index", position)
        if type(index) is not int or not 0 <= index < len(items) or vectors[index] is not None:
            raise RemoteProtocolError(f"embeddings data[{position}] has a bad or repeated index {index!r}")
        vectors[index] = _vector(item.get("embedding"), position)
    dims = {len(v) for v in vectors if v is not None}
    if len(dims) > 1:
        raise RemoteProtocolError(f"embeddings of different lengths in one response: {sorted(dims)}")
    if 0 in dims:
        raise RemoteProtocolError("an empty embedding vector")
    usage = obj.get("usage")
    model = obj.get("model")
    return Embeddings(
        vectors=tuple(v for v in vectors if v is not None),
        model=model if type(model) is str else None,
        usage=Usage.from_json(usage) if type(usage) is dict else None,
    )


def _vector(value: Any, position: int) -> tuple[float, ...]:
    if type(value) is str:
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            raise RemoteProtocolError(f"embeddings data[{position}] is not valid base64") from None
        if len(raw) % 4:
            raise RemoteProtocolError(f"embeddings data[{position}] is not a whole number of float32 values")
        floats: tuple[float, ...] = struct.unpack(f"<{len(raw) // 4}f", raw)
    elif type(value) is list:
        if not all(type(x) is float or type(x) is int for x in value):
            raise RemoteProtocolError(f"embeddings data[{position}] holds a value that is not a number")
        floats = tuple(float(x) for x in value)
    else:
        raise RemoteProtocolError(f"embeddings data[{position}] has no 'embedding' array")
    if not all(math.isfinite(x) for x in floats):
        raise RemoteProtocolError(f"embeddings data[{position}] holds NaN or infinity")
    return floats
