"""``judge``: the verdict on one request attempt, a pure function of what was received."""

from __future__ import annotations

import pytest

from anyagent_core import AssistantMessage, Failure, MessageComplete, ServerError, TextBlock
from anyagent_httpx import (
    APIConnectionError,
    APITimeoutError,
    ContentDecodingError,
    ContextLengthError,
    InternalServerError,
    MalformedResponseError,
    RateLimitError,
    ServerStreamError,
    StreamInterruptedError,
    UnsupportedEncodingError,
)
from anyagent_httpx._attempt import AttemptFailed, Received, judge

URL = "http://127.0.0.1:9/v1/chat/completions"
TEXT = AssistantMessage(content=[TextBlock(text="Hello")])


def complete(
    *, message: AssistantMessage = TEXT, error: ServerError | None = None, truncated: bool = False
) -> MessageComplete:
    return MessageComplete(
        message=message, choices=(message,), error=error, truncated=truncated, done_received=not truncated
    )


def received(status: int = 200, **kwargs: object) -> Received:
    kwargs.setdefault("complete", complete())
    kwargs.setdefault("received", 100)
    return Received(url=URL, status=status, **kwargs)  # type: ignore[arg-type]


def test_a_finished_answer_is_the_answer() -> None:
    done = complete()
    assert judge(received(complete=done, output=True)) is done


def test_an_error_status_is_a_failure_the_retry_rules_read() -> None:
    error = ServerError(message="slow down", body='{"error": "slow down"}', status=429)
    verdict = judge(
        received(429, complete=complete(message=AssistantMessage(), error=error), headers=(("retry-after", "2"),))
    )
    assert isinstance(verdict, AttemptFailed)
    assert (verdict.kind, verdict.status, verdict.headers) == (Failure.STATUS, 429, (("retry-after", "2"),))
    assert isinstance(verdict.error, RateLimitError) and verdict.error.url == URL
    assert verdict.error_text[0] == "slow down"


def test_a_context_overflow_status_is_a_context_length_error() -> None:
    error = ServerError(message="context_length_exceeded", status=400)
    verdict = judge(received(400, complete=complete(message=AssistantMessage(), error=error)))
    assert isinstance(verdict, AttemptFailed) and isinstance(verdict.error, ContextLengthError)


def test_a_5xx_keeps_the_cut_as_its_cause() -> None:
    cut = APIConnectionError("reset", url=URL)
    verdict = judge(received(503, complete=complete(message=AssistantMessage()), cut=cut))
    assert isinstance(verdict, AttemptFailed) and isinstance(verdict.error, InternalServerError)
    assert verdict.__cause__ is cut


@pytest.mark.parametrize("output", [False, True])
def test_an_error_inside_a_200_is_retryable_only_before_output(output: bool) -> None:
    error = ServerError(message="overloaded", source="data_event")
    verdict = judge(received(complete=complete(error=error), output=output))
    if output:
        assert isinstance(verdict, ServerStreamError) and verdict.partial == TEXT and verdict.error is error
    else:
        assert isinstance(verdict, AttemptFailed) and verdict.kind is Failure.STREAM_ERROR
        assert isinstance(verdict.error, ServerStreamError) and verdict.server_error is error


@pytest.mark.parametrize(
    ("cut", "kind"),
    [(APIConnectionError("reset", url=URL), Failure.CONNECTION), (APITimeoutError("slow", url=URL), Failure.TIMEOUT)],
)
def test_a_body_cut_before_output_is_a_connection_failure(cut: APIConnectionError, kind: Failure) -> None:
    verdict = judge(received(complete=complete(truncated=True), cut=cut))
    assert isinstance(verdict, AttemptFailed) and verdict.kind is kind
    assert isinstance(verdict.error, StreamInterruptedError)
    assert "before any output" in str(verdict.error) and verdict.error.__cause__ is cut


def test_a_body_in_a_coding_not_asked_for_is_its_own_failure() -> None:
    cut = UnsupportedEncodingError("zstd", url=URL)
    verdict = judge(received(complete=complete(message=AssistantMessage(), truncated=True), cut=cut))
    assert isinstance(verdict, AttemptFailed) and verdict.kind is Failure.UNSUPPORTED_ENCODING
    assert verdict.error is cut and cut.coding == "zstd" and cut.response_started
    assert "content-coding 'zstd'" in str(cut)


def test_a_corrupt_body_before_output_is_its_own_failure() -> None:
    cut = ContentDecodingError("gzip", offset=30, detail="invalid block type", url=URL)
    verdict = judge(received(complete=complete(message=AssistantMessage(), truncated=True), cut=cut))
    assert isinstance(verdict, AttemptFailed) and verdict.kind is Failure.CORRUPT_ENCODING
    assert verdict.error is cut and (cut.coding, cut.offset) == ("gzip", 30) and cut.response_started
    assert str(cut) == "the response body is not valid gzip at byte 30 (invalid block type)"


def test_a_corrupt_body_after_output_is_a_malformed_response_with_the_partial_answer() -> None:
    cut = ContentDecodingError("deflate", offset=7, url=URL)
    verdict = judge(received(complete=complete(truncated=True), cut=cut, output=True))
    assert isinstance(verdict, MalformedResponseError) and verdict.partial == TEXT
    assert verdict.__cause__ is cut and verdict.url == URL
    assert str(verdict) == f"the response body stopped decoding mid-answer ({cut})"
    assert str(cut) == "the response body is not valid deflate at byte 7"


def test_an_error_status_in_a_coding_not_asked_for_is_judged_by_its_status() -> None:
    cut = UnsupportedEncodingError("br", url=URL)
    verdict = judge(received(503, complete=complete(message=AssistantMessage()), cut=cut))
    assert isinstance(verdict, AttemptFailed) and verdict.kind is Failure.STATUS
    assert isinstance(verdict.error, InternalServerError) and verdict.__cause__ is cut


def test_a_body_cut_after_output_is_raised_with_the_partial_answer() -> None:
    cut = APIConnectionError("reset", url=URL)
    verdict = judge(received(complete=complete(truncated=True), cut=cut, output=True))
    assert isinstance(verdict, StreamInterruptedError)
    assert "mid-answer" in str(verdict) and verdict.partial == TEXT and verdict.__cause__ is cut


def test_an_empty_200_says_what_llama_cpp_means_by_it() -> None:
    verdict = judge(received(complete=complete(message=AssistantMessage(), truncated=True), received=0))
    assert isinstance(verdict, AttemptFailed) and verdict.kind is Failure.EMPTY_RESPONSE
    assert "empty body" in str(verdict.error) and "context window" in str(verdict.error)


def test_a_body_that_ends_early_without_a_cut_is_an_empty_response_failure() -> None:
    verdict = judge(received(complete=complete(message=AssistantMessage(), truncated=True)))
    assert isinstance(verdict, AttemptFailed) and verdict.kind is Failure.EMPTY_RESPONSE
    assert "the response ended before any output" in str(verdict.error)
