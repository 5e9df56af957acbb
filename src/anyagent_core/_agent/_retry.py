"""Retry and fallback decisions, as data: a failure in, ``Retry(delay, model)`` or ``GiveUp`` out.

The driver performs the request, reports how it failed, and sleeps for the delay it is given;
it never decides. Time and randomness come in as arguments (``now`` for ``Retry-After`` dates,
``random`` for jitter), so every decision is reproducible in tests.

What is retried, on the same model, up to ``RetryPolicy.max_retries`` times:

- HTTP 408, 409, 429, 500, 502, 503, 504 (``RetryPolicy.retry_statuses``), unless the server
  says ``x-should-retry: false``; any status when it says ``x-should-retry: true``;
- a connection that failed or timed out before any output was delivered;
- a 200 response that ended with no output at all (a server that crashed after its headers), or
  that reported an overload or rate limit inside the stream before any output.

Nothing is retried once output was delivered: the driver raises with the partial message. A
body the server would send the same way again, whichever model it serves (in a content-coding
that was not asked for, or corrupt in its coding), is not retried on that endpoint, nor on its
fallback models: the turn moves at once to the next fallback endpoint, or gives up without one.
The wait is the server's ``Retry-After`` (seconds or an HTTP date, or ``retry-after-ms``) when it
gives one no longer than ``max_retry_after``, otherwise exponential back-off with jitter. A
``Retry-After`` longer than ``max_retry_after`` is not waited for, however absurd (hundreds of
digits, a date in the year 9999: read as ``RETRY_AFTER_CEILING``, 2**31 s, never ``inf``).

When the retries are spent (or a ``Retry-After`` asks for too long), or the failure concerns the
model itself (404, the prompt does not fit its context), the next fallback model is tried at
once, with its own retries. Errors that no model would fix (400, 401, 403, 422) give up.

Fallback endpoints (other servers, each with its model) come after the fallback models, in
order, by the same rules: an endpoint that keeps failing after its retries passes the turn on to
the next. An endpoint that cannot be reached at all (the connection fails or times out, its
retries spent) is left at once, with the fallback models it would have served, for the next
endpoint: another model on a server that does not answer would not answer either (with no
endpoint left, its fallback models are still tried, as without fallback endpoints).
"""

from __future__ import annotations

import calendar
import enum
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from anyagent_core._util import lazy_names, lazy_pattern
from anyagent_core.value import Value

if TYPE_CHECKING:
    from ._decisions import GiveUp, Retry

__all__ = [
    "DEFAULT_RETRY_POLICY",
    "RETRY_AFTER_CEILING",
    "Failure",
    "GiveUp",
    "Retry",
    "RetryPolicy",
    "RetryState",
    "is_context_length_error",
    "parse_http_date",
    "parse_retry_after",
]

_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "context length",
    "context window",
    "context size",
    "maximum context",
    "exceeds the context",
    "exceed_context_size",
    "too many tokens",
    "prompt is too long",
)


def is_context_length_error(*texts: object) -> bool:
    """Whether an error's message, code, type or body says the prompt did not fit the model's
    context (servers word it differently and use 400, 413 or 500)."""
    return any(marker in str(text).lower() for text in texts if text for marker in _CONTEXT_MARKERS)


class Failure(enum.Enum):
    """How an attempt failed, as the driver saw it."""

    STATUS = "status"
    """An HTTP error status."""
    CONNECTION = "connection"
    """The connection failed (refused, reset, dropped) with no output delivered."""
    TIMEOUT = "timeout"
    """A connect or read timeout with no output delivered."""
    EMPTY_RESPONSE = "empty_response"
    """A 2xx response whose body ended before any output."""
    STREAM_ERROR = "stream_error"
    """The server reported an error inside a 2xx response before any output."""
    UNSUPPORTED_ENCODING = "unsupported_encoding"
    """The body came in a content-coding that was not asked for and is not decoded (zstd, br):
    the server would send it the same way again, so only another endpoint is tried."""
    CORRUPT_ENCODING = "corrupt_encoding"
    """The body does not decode in its content-coding (corrupt gzip or deflate) before any
    output: deterministic server misbehaviour, so only another endpoint is tried."""


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a finite number >= 0, not {value!r}")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RetryPolicy(Value):
    """How hard to try. The defaults suit local servers that restart or queue requests."""

    max_retries: int = attrs.field(default=2, validator=[attrs.validators.instance_of(int), attrs.validators.ge(0)])
    """Retries per model after the first attempt (0: never retry)."""
    initial_delay: float = attrs.field(default=0.5, validator=_non_negative)
    max_delay: float = attrs.field(default=8.0, validator=_non_negative)
    multiplier: float = attrs.field(default=2.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.25, validator=[_non_negative, attrs.validators.le(1)])
    """The delay is scaled by a random factor in [1 - jitter, 1 + jitter]."""
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    """A ``Retry-After`` longer than this is not waited for: the next fallback model is tried,
    or the error raised."""
    retry_statuses: frozenset[int] = attrs.field(
        default=frozenset({408, 409, 429, 500, 502, 503, 504}), converter=frozenset
    )

    def backoff(self, retry: int, random: float) -> float:
        """The delay before retry number ``retry`` (1-based), with ``random`` in [0, 1)."""
        try:
            base = min(self.max_delay, self.initial_delay * self.multiplier ** (retry - 1))
        except OverflowError:  # the power passed any float long before: the cap applies
            base = self.max_delay
        return base * (1.0 - self.jitter + 2.0 * self.jitter * random)


DEFAULT_RETRY_POLICY = RetryPolicy()


_SECONDS = lazy_pattern(r"[0-9]+(?:\.[0-9]*)?", re.ASCII)  # ASCII digits only, as HTTP allows

#: The longest wait ``parse_retry_after`` reports, in seconds: a longer one (hundreds of digits,
#: too many for a float; a date in the year 9999) counts as this, as RFC 9111 §1.2.2 has a cache
#: count a delta-seconds too large to represent. Far above any ``max_retry_after`` worth setting,
#: so such a wait is not waited for.
RETRY_AFTER_CEILING = 2.0**31


def _seconds(wait: float) -> float:
    """``wait`` within [0, ``RETRY_AFTER_CEILING``] (an overflow to ``inf`` is the ceiling)."""
    return min(max(0.0, wait), RETRY_AFTER_CEILING)


def parse_retry_after(headers: Mapping[str, str] | Iterable[tuple[str, str]], *, now: float | None) -> float | None:
    """The wait a response asks for, in seconds: ``retry-after-ms``, else ``Retry-After`` as
    seconds or as an HTTP date (which needs ``now``, the current Unix time). None when absent
    or unreadable; a date in the past gives 0; always finite: a longer wait than
    ``RETRY_AFTER_CEILING`` (2**31 s), however many digits it has, gives the ceiling."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        if key in ("retry-after", "retry-after-ms") and key not in found:
            found[key] = value.strip()
    millis = found.get("retry-after-ms", "")
    if _SECONDS().fullmatch(millis):
        return _seconds(float(millis) / 1000.0)  # float() of any digits is finite or inf, never slow
    value = found.get("retry-after")
    if not value:
        return None
    if _SECONDS().fullmatch(value):
        return _seconds(float(value))
    if now is None:
        return None
    when = parse_http_date(value)
    if when is None or math.isnan(when - now):  # a NaN ``now``: no date can be read against it
        return None
    return _seconds(when - now)


_MONTHS = {name: number for number, name in enumerate(calendar.month_abbr) if name}
_HTTP_DATES = (
    # IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    lazy_pattern(r"[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT"),
    # RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    lazy_pattern(r"[A-Za-z]+, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT"),
    # asctime: Sun Nov  6 08:49:37 1994
    lazy_pattern(r"[A-Za-z]{3} ([A-Za-z]{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})"),
)


def parse_http_date(value: str) -> float | None:
    """An HTTP date (RFC 9110 §5.6.7, all three formats) as Unix time, or None if it is not one."""
    text = value.strip()
    for number, pattern in enumerate(_HTTP_DATES):
        match = pattern().fullmatch(text)
        if match is None:
            continue
        if number == 2:
            month_name, day, hour, minute, second, year = match.groups()
        else:
            day, month_name, year, hour, minute, second = match.groups()
        month = _MONTHS.get(month_name.title())
        if month is None:
            return None
        full_year = int(year)
        if len(year) == 2:  # RFC 850: a two-digit year is within 50 years of now; 1970-2069 here
            full_year += 1900 if full_year >= 70 else 2000
        try:
            fields = (full_year, month, int(day), int(hour), int(minute), int(second))
            day_ok = 1 <= fields[2] <= calendar.monthrange(full_year, month)[1]
            if not (day_ok and fields[3] < 24 and fields[4] < 60 and fields[5] <= 60):
                return None
            return float(calendar.timegm((*fields, 0, 0, 0)))
        except (ValueError, OverflowError):
            return None
    return None


def _should_retry_header(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> bool | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        if name.lower() == "x-should-retry":
            lowered = value.strip().lower()
            if lowered in ("true", "false"):
                return lowered == "true"
    return None


def _wait_text(wait: float) -> str:
    """A ``parse_retry_after`` wait as a reason says it (the ceiling stands for any longer one)."""
    return f"{RETRY_AFTER_CEILING:.0f} s or more" if wait >= RETRY_AFTER_CEILING else f"{wait:g} s"


_RETRYABLE_STREAM_ERRORS = ("overloaded", "rate_limit", "rate limit", "server_error", "unavailable", "try again")

#: Failures that another model might not have: tried on the next fallback model at once.
_MODEL_STATUSES = frozenset({404})

#: Failures of the server, whatever the model: tried on the next endpoint at once, never on the
#: same one (the classification says they are not retried).
_SERVER_FAILURES = frozenset({Failure.UNSUPPORTED_ENCODING, Failure.CORRUPT_ENCODING})


class RetryState:
    """The attempts of one request: which model is current and how many tries it had.

    ::

        state = RetryState(policy, ["big-model", "small-model"])
        while True:
            ... send with state.model ...
            decision = state.failed(Failure.STATUS, status=503, headers=h, now=time(), random=rnd())
            if isinstance(decision, GiveUp):
                raise error
            await sleep(decision.delay)
    """

    def __init__(self, policy: RetryPolicy, models: Sequence[str], *, endpoints: Sequence[int] | None = None) -> None:
        if not models:
            raise ValueError("RetryState needs at least one model")
        self.policy = policy
        self.models = tuple(models)
        self.endpoints = tuple(endpoints) if endpoints is not None else (0,) * len(self.models)
        """The endpoint of each model, in the same order (0: the main one)."""
        if len(self.endpoints) != len(self.models):
            raise ValueError(f"{len(self.endpoints)} endpoints for {len(self.models)} models: one each")
        if any(not isinstance(e, int) or isinstance(e, bool) or e < 0 for e in self.endpoints):
            raise ValueError(f"endpoints are numbers from 0, not {self.endpoints!r}")
        self._model_index = 0
        self._tries = 1  # attempts made on the current model
        self.attempts = 1
        """Attempts made so far, across models (the first one included)."""

    @property
    def model(self) -> str:
        """The model to use for the current attempt."""
        return self.models[self._model_index]

    @property
    def endpoint(self) -> int:
        """The endpoint of the current attempt (0: the main one)."""
        return self.endpoints[self._model_index]

    def failed(
        self,
        failure: Failure,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        error_text: Iterable[object] = (),
        now: float | None = None,
        random: float = 0.5,
    ) -> Retry | GiveUp:
        """The current attempt failed: what next. ``error_text`` is what the server said (message,
        code, type, body), used to recognise context-length and overload errors; ``now`` is the
        Unix time (for ``Retry-After`` dates) and ``random`` a number in [0, 1) for jitter."""
        from ._decisions import GiveUp  # the decisions load with the first failure

        if not 0.0 <= random < 1.0:
            raise ValueError(f"random must be in [0, 1), not {random!r}")
        texts = tuple(error_text)
        headers = tuple(headers.items() if isinstance(headers, Mapping) else headers)
        retryable, why = self._classify(failure, status, headers, texts)
        policy = self.policy
        spent = ""  # what the retries came to, when they are what ended this model's attempts
        if retryable and self._tries <= policy.max_retries:
            wait = parse_retry_after(headers, now=now)
            if wait is None:
                return self._retry(policy.backoff(self._tries, random), why)
            if wait <= policy.max_retry_after:
                return self._retry(wait, f"{why}; the server asked to retry after {_wait_text(wait)}")
            why = (
                f"{why}; the server asked to retry after {_wait_text(wait)}, "
                f"more than max_retry_after ({policy.max_retry_after:g} s)"
            )
        elif retryable:
            count = policy.max_retries
            spent = f"gave up after {count} {'retry' if count == 1 else 'retries'}" if count else "retries are off"
        previous, endpoint = self.model, self.endpoint
        following: int | None = None
        if failure in _SERVER_FAILURES:  # the same server would fail alike: another one, if any
            following = self._next_endpoint()
        elif self._model_index + 1 < len(self.models) and (retryable or self._about_model(status, texts)):
            following = self._model_index + 1
            if failure in (Failure.CONNECTION, Failure.TIMEOUT):  # the server is not there: the next one
                following = self._next_endpoint() or following  # an index past the current one, never 0
        if following is not None:
            self._model_index = following
            self._tries = 0
            why = f"{why} (model {previous!r})" + (f"; {spent}" if spent else "")
            where = f"model {self.model!r}"
            if self.endpoint != endpoint:
                where = f"endpoint {self.endpoint}, {where}"
            return self._retry(0.0, f"{why}; falling back to {where}", fallback_to=where, gave_up=spent)
        if spent == "retries are off":
            return GiveUp(reason=f"not retried: {why} (model {self.model!r}); retries are off")
        if spent:
            return GiveUp(reason=f"{why} (model {self.model!r}); {spent}")
        return GiveUp(reason=f"not retried: {why} (model {self.model!r})")

    def _next_endpoint(self) -> int | None:
        """The index of the next model on another endpoint than the current one, if any."""
        endpoint = self.endpoint
        others = (i for i in range(self._model_index + 1, len(self.models)) if self.endpoints[i] != endpoint)
        return next(others, None)

    def _retry(self, delay: float, reason: str, *, fallback_to: str = "", gave_up: str = "") -> Retry:
        from ._decisions import Retry

        self._tries += 1
        self.attempts += 1
        return Retry(
            delay=delay,
            model=self.model,
            attempt=self.attempts,
            reason=reason,
            endpoint=self.endpoint,
            fallback_to=fallback_to,
            gave_up=gave_up,
        )

    def _classify(
        self, failure: Failure, status: int | None, headers: tuple[tuple[str, str], ...], texts: tuple[object, ...]
    ) -> tuple[bool, str]:
        if failure is Failure.STATUS:
            if status is None:
                raise ValueError("Failure.STATUS needs the status")
            verdict = _should_retry_header(headers)
            if verdict is not None:
                return verdict, f"HTTP {status} (the server says x-should-retry: {str(verdict).lower()})"
            if is_context_length_error(*texts):
                return False, f"HTTP {status}: the prompt does not fit the model's context"
            return status in self.policy.retry_statuses, f"HTTP {status}"
        if failure is Failure.STREAM_ERROR:
            if is_context_length_error(*texts):
                return False, "an error in the response: the prompt does not fit the model's context"
            lowered = " ".join(str(t).lower() for t in texts)
            overloaded = any(marker in lowered for marker in _RETRYABLE_STREAM_ERRORS)
            codes = {t for t in texts if isinstance(t, int)}
            return overloaded or bool(codes & self.policy.retry_statuses), "an error inside the response"
        if failure is Failure.EMPTY_RESPONSE:
            return True, "the response ended before any output"
        if failure is Failure.UNSUPPORTED_ENCODING:
            return False, "the response body is in a content-coding that was not asked for"
        if failure is Failure.CORRUPT_ENCODING:
            return False, "the response body does not decode in its content-coding"
        if failure is Failure.TIMEOUT:
            return True, "the request timed out"
        return True, "the connection failed"

    @staticmethod
    def _about_model(status: int | None, texts: tuple[object, ...]) -> bool:
        return status in _MODEL_STATUSES or is_context_length_error(*texts)


#: The decisions, made on first use (``_decisions``).
__getattr__, __dir__ = lazy_names(globals(), dict.fromkeys(("GiveUp", "Retry"), "._agent._decisions"))
