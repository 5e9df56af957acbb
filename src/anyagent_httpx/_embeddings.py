"""``Embedder``: vectors for texts from the endpoint's own ``/v1/embeddings`` (llama.cpp with
``--embeddings``, vLLM, Ollama, LM Studio, OpenAI), over the same transports as the chat.

::

    async with Embedder("nomic-embed-text", base_url="http://127.0.0.1:8080/v1") as embedder:
        vectors = await embedder.embed(["green tea in the morning", "the deploy key"])

The request is written and the answer read by the core (``anyagent_core.embeddings``); this
module sends it, bounded in size and time, in batches of ``batch_size`` inputs. An error status
is the ``APIStatusError`` subclass the chat would raise (``NotFoundError`` when the server has
no embeddings endpoint, ...); a 200 body that is not an embeddings answer is
``EmbeddingsError``. The API key never appears in a repr, a log line or an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

import anyio

from anyagent_core import Config, Endpoint, RemoteProtocolError, Request, ServerError
from anyagent_core.embeddings import Embeddings, EmbeddingsExchange
from anyagent_core.wire import redact_url

from ._errors import APIError, APITimeoutError, ConfigurationError, status_error
from ._options import CLIENT_CONFIG, get_api_key, get_base_url
from ._transports import AsyncTransport, HttpxTransport, shared_transport

if TYPE_CHECKING:
    import httpx

__all__ = ["EMBEDDINGS_TIMEOUT", "Embedder", "EmbeddingsError"]

#: Seconds one embeddings request may take.
EMBEDDINGS_TIMEOUT = 60.0
_MAX_BODY = 64 * 1024 * 1024


class EmbeddingsError(APIError):
    """The server answered 200 with something that is not an embeddings response (what is
    wrong is in the message), or the answer was too large."""


class Embedder:
    """Embeds texts through an OpenAI-compatible endpoint's ``/embeddings``.

    ``base_url`` and ``api_key`` left as None are taken from the environment as the chat's
    are (``ANY_AGENT_BASE_URL``, ``ANY_AGENT_API_KEY``). Without ``transport`` or
    ``http_client`` it uses the event loop's default pool. ``dimensions`` asks the server for
    shorter vectors (models that support it).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        provider: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 64,
        timeout: float | None = EMBEDDINGS_TIMEOUT,
        transport: AsyncTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        extra_headers: Sequence[tuple[str, str]] = (),
        config: Config = CLIENT_CONFIG,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigurationError(f"Embedder needs a model name, not {model!r}")
        if type(batch_size) is not int or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive integer, not {batch_size!r}")
        if dimensions is not None and (type(dimensions) is not int or dimensions < 1):
            raise ConfigurationError(f"dimensions must be a positive integer or None, not {dimensions!r}")
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
        if transport is not None and http_client is not None:
            raise ConfigurationError("pass http_client= or transport=, not both")
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.timeout = timeout
        self._endpoint = Endpoint(
            base_url=get_base_url(base_url, provider=provider, env=env),
            api_key=get_api_key(api_key, env=env),
            headers=tuple(extra_headers),
        )
        self._config = config
        self._transport = transport
        self._http_client = http_client
        self._owned: HttpxTransport | None = None

    @property
    def base_url(self) -> str:
        """The endpoint's base URL, credentials removed."""
        return redact_url(self._endpoint.base_url)

    def __repr__(self) -> str:
        return f"Embedder(model={self.model!r}, base_url={self.base_url!r})"

    async def _the_transport(self) -> AsyncTransport:
        if self._transport is None:
            if self._http_client is not None:
                self._transport = HttpxTransport(http_client=self._http_client)
            else:
                self._transport = await shared_transport()
                if self._transport is None:
                    self._transport = self._owned = HttpxTransport()
        return self._transport

    async def embed(self, texts: Sequence[str]) -> list[tuple[float, ...]]:
        """One vector per text, in order (an empty list for no texts). Each text must be a
        non-empty string (``ValueError`` otherwise, naming which)."""
        items = [texts] if isinstance(texts, str) else list(texts)
        for index, text in enumerate(items):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"text {index} to embed must be a non-empty string, not {text!r}")
        vectors: list[tuple[float, ...]] = []
        for start in range(0, len(items), self.batch_size):
            answer = await self._batch(items[start : start + self.batch_size])
            vectors.extend(answer.vectors)
        return vectors

    async def embed_one(self, text: str) -> tuple[float, ...]:
        """The vector of one text."""
        (vector,) = await self.embed([text])
        return vector

    async def _batch(self, texts: Sequence[str]) -> Embeddings:
        exchange = EmbeddingsExchange(self._endpoint, config=self._config)
        request = exchange.send(texts, model=self.model, dimensions=self.dimensions)
        url = redact_url(request.url)
        status, body = await self._exchange(request, url)
        try:
            answer = exchange.receive(status, body)
        except RemoteProtocolError as exc:
            raise EmbeddingsError(f"the embeddings answer from {url} is not usable: {exc}", url=url) from None
        if isinstance(answer, ServerError):
            raise status_error(status, error=answer, url=url)
        return answer

    async def _exchange(self, request: Request, url: str) -> tuple[int, bytes]:
        transport = await self._the_transport()
        try:
            with anyio.fail_after(self.timeout):
                async with transport.exchange(request) as response:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.stream:
                        size += len(chunk)
                        if size > _MAX_BODY:
                            raise EmbeddingsError(f"the answer from {url} is over {_MAX_BODY} bytes", url=url)
                        chunks.append(chunk)
                    return response.status, b"".join(chunks)
        except TimeoutError:
            raise APITimeoutError(f"no embeddings answer from {url} within {self.timeout} s", url=url) from None

    async def aclose(self) -> None:
        """Close the transport it made for itself, if any (one you passed stays open)."""
        owned, self._owned = self._owned, None
        if owned is not None:
            with anyio.CancelScope(shield=True):
                await owned.aclose()

    async def __aenter__(self) -> Embedder:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
