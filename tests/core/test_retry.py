"""Retry and fallback decisions: the policy, ``Retry-After``, HTTP dates and ``RetryState``, by
the rules the module's docstring states."""

from __future__ import annotations

import datetime
import email.utils
import math
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import (
    DEFAULT_RETRY_POLICY,
    Failure,
    GiveUp,
    Retry,
    RetryPolicy,
    RetryState,
    is_context_length_error,
    parse_retry_after,
)
from anyagent_core._agent._retry import parse_http_date
from anyagent_core.retry import RETRY_AFTER_CEILING

RETRY_STATUSES = (408, 409, 429, 500, 502, 503, 504)
FLOAT_FIELDS = ("initial_delay", "max_delay", "multiplier", "jitter", "max_retry_after")

# The RFC 9110 example, in its three formats, and its Unix time.
IMF_EXAMPLE = "Sun, 06 Nov 1994 08:49:37 GMT"
RFC850_EXAMPLE = "Sunday, 06-Nov-94 08:49:37 GMT"
ASCTIME_EXAMPLE = "Sun Nov  6 08:49:37 1994"
EXAMPLE_TIME = 784111777.0

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def new_state(models: tuple[str, ...] = ("a",), **policy: Any) -> RetryState:
    return RetryState(RetryPolicy(**policy), models)


def expected_base(policy: RetryPolicy, retry: int) -> float:
    """``min(max_delay, initial_delay * multiplier ** (retry - 1))``, in exact terms: a power
    too large for a float is past any ``max_delay``."""
    if policy.initial_delay == 0:
        return 0.0
    try:
        grown = policy.initial_delay * policy.multiplier ** (retry - 1)
    except OverflowError:
        grown = math.inf
    return min(policy.max_delay, grown)


def within(value: float, low: float, high: float) -> bool:
    # The delay is computed as base * (1 - jitter + 2 * jitter * random): the sum may round one
    # ulp past base * (1 + jitter).
    return low <= value <= high * (1 + 1e-12)


# ---- strategies ---------------------------------------------------------------------------

finite = st.floats(min_value=0, max_value=1e3, allow_nan=False, allow_infinity=False)
policies = st.builds(
    RetryPolicy,
    max_retries=st.integers(0, 4),
    initial_delay=finite,
    max_delay=finite,
    multiplier=st.floats(min_value=0, max_value=10),
    jitter=st.floats(min_value=0, max_value=1),
    max_retry_after=st.floats(min_value=0, max_value=120),
)
randoms = st.floats(min_value=0, max_value=1, exclude_max=True)
http_datetimes = st.datetimes(
    min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2069, 12, 31, 23, 59, 59)
).map(lambda d: d.replace(microsecond=0, tzinfo=datetime.UTC))
nows = st.floats(min_value=0, max_value=4e9)


def imf_fixdate(d: datetime.datetime) -> str:
    return email.utils.format_datetime(d, usegmt=True)


def rfc850_date(d: datetime.datetime) -> str:
    return f"{WEEKDAYS[d.weekday()]}, {d.day:02d}-{MONTHS[d.month - 1]}-{d.year % 100:02d} {d:%H:%M:%S} GMT"


def asctime_date(d: datetime.datetime) -> str:
    return f"{WEEKDAYS[d.weekday()][:3]} {MONTHS[d.month - 1]} {d.day:>2} {d:%H:%M:%S} {d.year}"


def email_timestamp(text: str) -> float:
    """What the standard library makes of an HTTP date (asctime has no zone: it is GMT)."""
    parsed = email.utils.parsedate_to_datetime(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


# ---- RetryPolicy ----------------------------------------------------------------------------


def test_default_policy() -> None:
    assert RetryPolicy() == DEFAULT_RETRY_POLICY
    assert DEFAULT_RETRY_POLICY.max_retries == 2
    assert DEFAULT_RETRY_POLICY.retry_statuses == frozenset(RETRY_STATUSES)
    assert 0 <= DEFAULT_RETRY_POLICY.jitter <= 1


def test_policy_is_frozen_and_keyword_only() -> None:
    policy = RetryPolicy()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.max_retries = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        RetryPolicy(3)  # type: ignore[call-arg]


def test_retry_statuses_become_a_frozenset() -> None:
    statuses: Any = [500, 418, 500]
    policy = RetryPolicy(retry_statuses=statuses)
    assert policy.retry_statuses == frozenset({418, 500})
    assert type(policy.retry_statuses) is frozenset


@pytest.mark.parametrize(("value", "error"), [(-1, ValueError), (1.5, TypeError), ("2", TypeError), (None, TypeError)])
def test_max_retries_must_be_a_non_negative_int(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        RetryPolicy(max_retries=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", FLOAT_FIELDS)
@pytest.mark.parametrize("value", [-1, -0.001, math.nan, math.inf, -math.inf, "1", None])
def test_delays_must_be_finite_and_non_negative(field: str, value: object) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match=field):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize("value", [1.0001, 2, 100.0])
def test_jitter_is_at_most_one(value: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=value)


def test_boundary_values_are_accepted() -> None:
    policy = RetryPolicy(max_retries=0, initial_delay=0, max_delay=0, multiplier=0, jitter=0, max_retry_after=0)
    assert policy.backoff(1, 0.5) == 0.0
    assert RetryPolicy(jitter=1, initial_delay=3, max_delay=10).jitter == 1


def test_evolve_validates_too() -> None:
    with pytest.raises(ValueError, match="jitter"):
        attrs.evolve(RetryPolicy(), jitter=1.5)
    with pytest.raises(ValueError, match="max_retries"):
        attrs.evolve(RetryPolicy(), max_retries=-1)


def test_backoff_doubles_up_to_max_delay() -> None:
    policy = RetryPolicy(initial_delay=0.5, multiplier=2.0, max_delay=8.0, jitter=0.0)
    assert [policy.backoff(n, 0.3) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_backoff_jitter_spans_the_documented_range() -> None:
    policy = RetryPolicy(initial_delay=1.0, multiplier=2.0, max_delay=100.0, jitter=0.25)
    assert policy.backoff(1, 0.0) == 0.75
    assert policy.backoff(1, 0.5) == 1.0
    assert 1.2499 < policy.backoff(1, 0.99999) < 1.25
    assert policy.backoff(3, 0.0) == 3.0


@given(policy=policies, retry=st.integers(1, 200), random=randoms)
def test_backoff_lies_within_the_jitter_bounds(policy: RetryPolicy, retry: int, random: float) -> None:
    base = expected_base(policy, retry)
    delay = policy.backoff(retry, random)
    assert within(delay, base * (1 - policy.jitter), base * (1 + policy.jitter))
    assert delay <= policy.max_delay * (1 + policy.jitter) * (1 + 1e-12)


@given(policy=policies, retry=st.integers(1, 200), randoms=st.lists(randoms, min_size=2, max_size=2))
def test_backoff_is_monotone_in_random(policy: RetryPolicy, retry: int, randoms: list[float]) -> None:
    low, high = sorted(randoms)
    assert policy.backoff(retry, low) <= policy.backoff(retry, high)


@pytest.mark.parametrize("retry", [1100, 10_000])
def test_backoff_stays_at_max_delay_for_late_retries(retry: int) -> None:
    # The delay is min(max_delay, ...): a retry number whose power exceeds a float still has one.
    assert RetryPolicy(jitter=0.0).backoff(retry, 0.5) == 8.0


def test_a_steep_multiplier_still_gives_capped_delays() -> None:
    # 1e10 ** 31 does not fit a float; the back-off is capped at max_delay long before.
    state = new_state(max_retries=40, multiplier=1e10, max_delay=30.0, jitter=0.0)
    for attempt in range(2, 42):
        decision = state.failed(Failure.STATUS, status=503)
        assert isinstance(decision, Retry)
        assert (decision.model, decision.attempt) == ("a", attempt)
        assert decision.delay <= 30.0
    assert isinstance(state.failed(Failure.STATUS, status=503), GiveUp)


# ---- parse_retry_after ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), ("0", 0.0), (" 7 ", 7.0), ("120", 120.0), ("1.5", 1.5), ("0.25", 0.25), ("2.", 2.0)],
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    assert parse_retry_after({"Retry-After": value}, now=None) == expected
    assert parse_retry_after({"Retry-After": value}, now=1e9) == expected


@pytest.mark.parametrize("value", ["-1", "-0.5", "nan", "NaN", "-nan", "inf", "Infinity", "-inf", "1e400", "", "  "])
def test_retry_after_rejects_negative_and_non_finite(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}, now=1e9) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "9" * 400},  # a float of it is inf
        {"Retry-After": "1" * 309 + ".5"},
        {"Retry-After": "1" + "0" * 4000},  # past int()'s default digit limit
        {"Retry-After": "2147483649"},
        {"retry-after-ms": "9" * 400},
        {"retry-after-ms": "2147483649000"},
    ],
)
def test_an_absurdly_long_retry_after_is_the_ceiling(headers: dict[str, str]) -> None:
    # RFC 9111 section 1.2.2: a delta-seconds too large to represent counts as 2**31.
    assert RETRY_AFTER_CEILING == 2.0**31
    assert parse_retry_after(headers, now=1e9) == RETRY_AFTER_CEILING


def test_a_retry_after_date_far_ahead_is_the_ceiling() -> None:
    assert parse_retry_after({"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, now=0.0) == RETRY_AFTER_CEILING
    assert parse_retry_after({"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, now=-math.inf) == RETRY_AFTER_CEILING
    assert parse_retry_after({"Retry-After": IMF_EXAMPLE}, now=math.inf) == 0.0
    assert parse_retry_after({"Retry-After": IMF_EXAMPLE}, now=math.nan) is None


@given(digits=st.integers(1, 2000), millis=st.booleans(), now=nows)
def test_retry_after_is_finite_and_at_most_the_ceiling(digits: int, millis: bool, now: float) -> None:
    wait = parse_retry_after({"retry-after-ms" if millis else "Retry-After": "7" * digits}, now=now)
    assert wait is not None and math.isfinite(wait) and 0 <= wait <= RETRY_AFTER_CEILING


@pytest.mark.parametrize(("value", "expected"), [("1500", 1.5), ("0", 0.0), ("250.5", 0.2505), (" 20 ", 0.02)])
def test_retry_after_ms(value: str, expected: float) -> None:
    assert parse_retry_after({"retry-after-ms": value}, now=None) == pytest.approx(expected)


def test_retry_after_ms_is_preferred() -> None:
    assert parse_retry_after({"Retry-After": "30", "Retry-After-Ms": "1500"}, now=None) == 1.5
    assert parse_retry_after([("retry-after-ms", "1500"), ("retry-after", "30")], now=None) == 1.5
    assert parse_retry_after([("retry-after", IMF_EXAMPLE), ("retry-after-ms", "10")], now=EXAMPLE_TIME) == 0.01


@pytest.mark.parametrize("millis", ["soon", "-5", "nan", "inf", ""])
def test_unusable_retry_after_ms_falls_back_to_retry_after(millis: str) -> None:
    assert parse_retry_after({"retry-after-ms": millis, "retry-after": "3"}, now=None) == 3.0
    assert parse_retry_after({"retry-after-ms": millis}, now=None) is None


@pytest.mark.parametrize("name", ["Retry-After", "retry-after", "RETRY-AFTER", "rEtRy-AfTeR"])
def test_retry_after_header_name_is_case_insensitive(name: str) -> None:
    assert parse_retry_after({name: "4"}, now=None) == 4.0
    assert parse_retry_after([(name + "-MS", "4000")], now=None) == 4.0


def test_retry_after_from_a_mapping_pairs_or_an_iterator() -> None:
    pairs = [("Content-Type", "application/json"), ("Retry-After", "9")]

    def generate() -> Iterator[tuple[str, str]]:
        yield from pairs

    assert parse_retry_after(dict(pairs), now=None) == 9.0
    assert parse_retry_after(pairs, now=None) == 9.0
    assert parse_retry_after(tuple(pairs), now=None) == 9.0
    assert parse_retry_after(generate(), now=None) == 9.0


def test_no_retry_after_gives_none() -> None:
    assert parse_retry_after({}, now=1e9) is None
    assert parse_retry_after([], now=1e9) is None
    assert parse_retry_after({"x-retry-after": "5", "after": "5"}, now=1e9) is None


@pytest.mark.parametrize("date", [IMF_EXAMPLE, RFC850_EXAMPLE, ASCTIME_EXAMPLE])
def test_retry_after_http_date(date: str) -> None:
    assert parse_retry_after({"Retry-After": date}, now=EXAMPLE_TIME - 42.5) == 42.5
    assert parse_retry_after({"Retry-After": date}, now=EXAMPLE_TIME) == 0.0


@pytest.mark.parametrize("date", [IMF_EXAMPLE, RFC850_EXAMPLE, ASCTIME_EXAMPLE])
def test_retry_after_date_in_the_past_gives_zero(date: str) -> None:
    assert parse_retry_after({"Retry-After": date}, now=EXAMPLE_TIME + 3600) == 0.0


@pytest.mark.parametrize("date", [IMF_EXAMPLE, RFC850_EXAMPLE, ASCTIME_EXAMPLE])
def test_retry_after_date_without_now_gives_none(date: str) -> None:
    assert parse_retry_after({"Retry-After": date}, now=None) is None


@given(d=http_datetimes, now=nows, form=st.sampled_from([imf_fixdate, rfc850_date, asctime_date]))
def test_retry_after_dates_agree_with_the_email_package(d: datetime.datetime, now: float, form: Any) -> None:
    text = form(d)
    if form is rfc850_date and d.year == 2069:
        return  # the email package reads "69" as 1969; see test_rfc850_two_digit_years
    expected = min(max(0.0, email_timestamp(text) - now), RETRY_AFTER_CEILING)
    assert parse_retry_after({"Retry-After": text}, now=now) == expected


@pytest.mark.parametrize(
    "value",
    ["soon", "5 seconds", "0x10", "tomorrow", "Sun, 06 Nov 1994", IMF_EXAMPLE.replace("GMT", "UTC"), "1994-11-06"],
)
def test_retry_after_garbage_gives_none(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}, now=EXAMPLE_TIME) is None


@given(value=st.text(), millis=st.none() | st.text(), now=st.none() | nows)
def test_retry_after_never_raises(value: str, millis: str | None, now: float | None) -> None:
    headers = [("Retry-After", value)] + ([] if millis is None else [("retry-after-ms", millis)])
    wait = parse_retry_after(headers, now=now)
    assert wait is None or (math.isfinite(wait) and wait >= 0)


# ---- parse_http_date -----------------------------------------------------------------------


@pytest.mark.parametrize("date", [IMF_EXAMPLE, RFC850_EXAMPLE, ASCTIME_EXAMPLE, f"  {IMF_EXAMPLE} "])
def test_the_three_formats_of_rfc_9110(date: str) -> None:
    assert parse_http_date(date) == EXAMPLE_TIME


@given(d=http_datetimes)
def test_format_datetime_round_trips(d: datetime.datetime) -> None:
    assert parse_http_date(email.utils.format_datetime(d, usegmt=True)) == d.timestamp()


@given(d=http_datetimes, form=st.sampled_from([imf_fixdate, rfc850_date, asctime_date]))
def test_every_format_agrees_with_the_email_package(d: datetime.datetime, form: Any) -> None:
    text = form(d)
    if form is rfc850_date and d.year == 2069:
        return  # see test_rfc850_two_digit_years
    assert parse_http_date(text) == email_timestamp(text) == d.timestamp()


def test_rfc850_two_digit_years() -> None:
    # A two-digit year is read as 1970-2069.
    assert parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT") == 0.0
    assert (
        parse_http_date("Tuesday, 31-Dec-69 23:59:59 GMT")
        == datetime.datetime(2069, 12, 31, 23, 59, 59, tzinfo=datetime.UTC).timestamp()
    )
    assert (
        parse_http_date("Friday, 31-Dec-99 00:00:00 GMT")
        == datetime.datetime(1999, 12, 31, tzinfo=datetime.UTC).timestamp()
    )
    assert (
        parse_http_date("Saturday, 01-Jan-00 00:00:00 GMT")
        == datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC).timestamp()
    )


def test_leap_days() -> None:
    assert (
        parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT")
        == datetime.datetime(2024, 2, 29, 12, tzinfo=datetime.UTC).timestamp()
    )
    assert parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT") is not None
    assert parse_http_date("Wed, 29 Feb 2023 00:00:00 GMT") is None
    assert parse_http_date("Thu, 29 Feb 1900 00:00:00 GMT") is None


@pytest.mark.parametrize(
    "date",
    [
        "Tue, 31 Feb 2023 00:00:00 GMT",
        "Sat, 31 Apr 2023 00:00:00 GMT",
        "Mon, 00 Jan 2024 00:00:00 GMT",
        "Mon, 32 Jan 2024 00:00:00 GMT",
        "Tuesday, 31-Feb-23 00:00:00 GMT",
        "Tue Feb 31 00:00:00 2023",
        "Tue Feb  0 00:00:00 2023",
    ],
)
def test_days_that_do_not_exist(date: str) -> None:
    assert parse_http_date(date) is None


@pytest.mark.parametrize(
    "date",
    [
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:99:37 GMT",
        "Sunday, 06-Nov-94 25:49:37 GMT",
        "Sun Nov  6 08:61:37 1994",
    ],
)
def test_times_that_do_not_exist(date: str) -> None:
    assert parse_http_date(date) is None


@pytest.mark.parametrize(
    "date", ["Sun, 06 Nov 1994 08:49:61 GMT", "Sun, 06 Nov 1994 08:49:99 GMT", "Sun Nov  6 08:49:99 1994"]
)
def test_seconds_that_do_not_exist(date: str) -> None:
    # RFC 9110 §5.6.7: second is 00-60 (60 for a leap second); 61 and over is not an HTTP date.
    assert parse_http_date(date) is None


@pytest.mark.parametrize(
    "date",
    [
        "",
        "GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sunday, 06-Foo-94 08:49:37 GMT",
        "Sun Foo  6 08:49:37 1994",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        f"{IMF_EXAMPLE} trailing",
        f"x{IMF_EXAMPLE}",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "1994-11-06T08:49:37Z",
        "784111777",
    ],
)
def test_not_http_dates(date: str) -> None:
    assert parse_http_date(date) is None


@given(st.text())
def test_parse_http_date_never_raises(text: str) -> None:
    result = parse_http_date(text)
    assert result is None or math.isfinite(result)


# ---- is_context_length_error ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "context_length_exceeded",
        "This model's maximum context length is 8192 tokens",
        "the request exceeds the context window",
        "Context size has been exceeded.",
        "exceed_context_size_error",
        "Too many tokens in the prompt",
        "prompt is too long: 210000 tokens > 200000 maximum",
    ],
)
def test_context_length_markers(text: str) -> None:
    assert is_context_length_error(text)
    assert is_context_length_error(None, "", text.upper())
    assert is_context_length_error(500, text)


def test_not_context_length_errors() -> None:
    assert not is_context_length_error()
    assert not is_context_length_error(None, "", 0, "rate limit reached", 413)
    assert not is_context_length_error("invalid_request_error", "model not found")


# ---- RetryState: the basics -----------------------------------------------------------------


def test_a_state_needs_a_model() -> None:
    with pytest.raises(ValueError, match="model"):
        RetryState(RetryPolicy(), [])


def test_a_new_state() -> None:
    state = RetryState(RetryPolicy(), ["big", "small"])
    assert state.model == "big"
    assert state.models == ("big", "small")
    assert state.attempts == 1


@pytest.mark.parametrize("random", [-0.001, 1.0, 1.5, -math.inf, math.inf, math.nan])
def test_random_outside_the_unit_interval_is_refused(random: float) -> None:
    state = new_state(("a", "b"))
    with pytest.raises(ValueError, match="random"):
        state.failed(Failure.STATUS, status=503, random=random)
    assert (state.model, state.attempts) == ("a", 1)


@pytest.mark.parametrize("random", [0.0, 0.5, math.nextafter(1.0, 0.0)])
def test_random_inside_the_unit_interval_is_accepted(random: float) -> None:
    decision = new_state().failed(Failure.STATUS, status=503, random=random)
    assert isinstance(decision, Retry)
    assert decision.delay == DEFAULT_RETRY_POLICY.backoff(1, random)


def test_a_status_failure_needs_the_status() -> None:
    state = new_state(("a", "b"))
    with pytest.raises(ValueError, match="status"):
        state.failed(Failure.STATUS)
    assert (state.model, state.attempts) == ("a", 1)


# ---- RetryState: statuses ------------------------------------------------------------------


@pytest.mark.parametrize("max_retries", [0, 1, 2, 5])
@pytest.mark.parametrize("status", RETRY_STATUSES)
def test_retryable_statuses_are_retried_max_retries_times(status: int, max_retries: int) -> None:
    state = new_state(max_retries=max_retries)
    policy = state.policy
    for retry in range(1, max_retries + 1):
        random = (retry * 0.37) % 1
        decision = state.failed(Failure.STATUS, status=status, random=random)
        assert isinstance(decision, Retry)
        assert decision.model == "a"
        assert decision.attempt == state.attempts == retry + 1
        assert decision.delay == policy.backoff(retry, random)
        assert f"HTTP {status}" in decision.reason
    decision = state.failed(Failure.STATUS, status=status)
    assert isinstance(decision, GiveUp)
    assert f"HTTP {status}" in decision.reason
    assert state.attempts == max_retries + 1


@pytest.mark.parametrize("status", [400, 401, 403, 422])
def test_errors_no_model_would_fix_are_never_retried(status: int) -> None:
    state = new_state(("a", "b", "c"), max_retries=10)
    decision = state.failed(Failure.STATUS, status=status, error_text=["bad request"])
    assert isinstance(decision, GiveUp)
    assert str(status) in decision.reason
    assert (state.model, state.attempts) == ("a", 1)


def test_custom_retry_statuses() -> None:
    assert isinstance(new_state(retry_statuses={418}).failed(Failure.STATUS, status=418), Retry)
    assert isinstance(new_state(retry_statuses={418}).failed(Failure.STATUS, status=503), GiveUp)


@pytest.mark.parametrize("value", ["true", "True", " TRUE "])
@pytest.mark.parametrize("status", [400, 401, 403, 418, 422, 501])
def test_x_should_retry_true_retries_any_status(status: int, value: str) -> None:
    state = new_state(max_retries=2)
    for attempt in (2, 3):
        decision = state.failed(Failure.STATUS, status=status, headers={"X-Should-Retry": value})
        assert isinstance(decision, Retry)
        assert (decision.model, decision.attempt) == ("a", attempt)
        assert "x-should-retry: true" in decision.reason
    assert isinstance(state.failed(Failure.STATUS, status=status, headers={"x-should-retry": "true"}), GiveUp)


@pytest.mark.parametrize("value", ["false", "False", " FALSE "])
@pytest.mark.parametrize("status", RETRY_STATUSES)
def test_x_should_retry_false_stops_a_retryable_status(status: int, value: str) -> None:
    state = new_state(("a", "b"), max_retries=5)
    decision = state.failed(Failure.STATUS, status=status, headers=[("x-should-retry", value)])
    assert isinstance(decision, GiveUp)
    assert "x-should-retry: false" in decision.reason
    assert state.model == "a"


@pytest.mark.parametrize("value", ["maybe", "", "1", "yes"])
def test_other_x_should_retry_values_are_ignored(value: str) -> None:
    assert isinstance(new_state().failed(Failure.STATUS, status=503, headers={"x-should-retry": value}), Retry)
    assert isinstance(new_state().failed(Failure.STATUS, status=400, headers={"x-should-retry": value}), GiveUp)


def test_x_should_retry_false_on_a_404_still_falls_back() -> None:
    state = new_state(("a", "b"))
    decision = state.failed(Failure.STATUS, status=404, headers={"x-should-retry": "false"})
    assert isinstance(decision, Retry)
    assert (decision.model, decision.delay) == ("b", 0.0)


def test_headers_as_a_mapping_pairs_or_an_iterator_decide_alike() -> None:
    pairs = [("X-Should-Retry", "false"), ("Retry-After", "1")]

    def generate() -> Iterator[tuple[str, str]]:
        yield from pairs

    for headers in (dict(pairs), pairs, generate()):
        assert isinstance(new_state().failed(Failure.STATUS, status=503, headers=headers), GiveUp)
    for headers in ({"retry-after": "1.5"}, [("Retry-After", "1.5")]):
        decision = new_state().failed(Failure.STATUS, status=503, headers=headers)
        assert isinstance(decision, Retry)
        assert decision.delay == 1.5


# ---- RetryState: the model's own failures ---------------------------------------------------

CONTEXT_TEXTS = [
    ("This model's maximum context length is 4096 tokens", "invalid_request_error", "context_length_exceeded"),
    ("the request exceeds the available context size", None, None),
    ("Prompt is too long",),
]


@pytest.mark.parametrize("texts", CONTEXT_TEXTS)
@pytest.mark.parametrize("status", [400, 413, 500, 503])
def test_context_length_errors_are_not_retried_on_the_same_model(status: int, texts: tuple[object, ...]) -> None:
    state = new_state(max_retries=5)
    decision = state.failed(Failure.STATUS, status=status, error_text=texts)
    assert isinstance(decision, GiveUp)
    assert "context" in decision.reason
    assert state.attempts == 1


@pytest.mark.parametrize("texts", CONTEXT_TEXTS)
@pytest.mark.parametrize("status", [400, 413, 500, 503])
def test_context_length_errors_fall_back_at_once(status: int, texts: tuple[object, ...]) -> None:
    state = new_state(("big", "small", "tiny"), max_retries=5)
    decision = state.failed(Failure.STATUS, status=status, error_text=texts)
    assert decision == Retry(delay=0.0, model="small", attempt=2, reason=decision.reason, fallback_to="model 'small'")
    assert "(model 'big'); falling back to model 'small'" in decision.reason
    assert decision.gave_up == ""  # not retried at all: nothing was spent
    decision = state.failed(Failure.STATUS, status=status, error_text=iter(texts))
    assert decision == Retry(delay=0.0, model="tiny", attempt=3, reason=decision.reason, fallback_to="model 'tiny'")
    assert isinstance(state.failed(Failure.STATUS, status=status, error_text=texts), GiveUp)
    assert (state.model, state.attempts) == ("tiny", 3)


def test_context_length_error_inside_the_stream_falls_back() -> None:
    texts = ("context_length_exceeded", "server_error")  # the marker wins over the overload wording
    assert isinstance(new_state(max_retries=3).failed(Failure.STREAM_ERROR, error_text=texts), GiveUp)
    decision = new_state(("a", "b"), max_retries=3).failed(Failure.STREAM_ERROR, error_text=texts)
    assert decision == Retry(delay=0.0, model="b", attempt=2, reason=decision.reason, fallback_to="model 'b'")


def test_404_falls_back_but_is_not_retried() -> None:
    assert isinstance(new_state(max_retries=5).failed(Failure.STATUS, status=404), GiveUp)
    state = new_state(("a", "b", "c"), max_retries=5)
    for model, attempt in (("b", 2), ("c", 3)):
        decision = state.failed(Failure.STATUS, status=404, random=0.9)
        assert decision == Retry(
            delay=0.0, model=model, attempt=attempt, reason=decision.reason, fallback_to=f"model {model!r}"
        )
        assert "404" in decision.reason
        assert f"falling back to model {model!r}" in decision.reason
    decision = state.failed(Failure.STATUS, status=404)
    assert isinstance(decision, GiveUp)
    assert "404" in decision.reason
    assert state.attempts == 3


def test_fallback_models_in_order_each_with_its_own_retries() -> None:
    state = new_state(("a", "b", "c"), max_retries=2, jitter=0.0)
    policy = state.policy
    seen = []
    while True:
        decision = state.failed(Failure.STATUS, status=503)
        if isinstance(decision, GiveUp):
            break
        assert state.model == decision.model
        assert state.attempts == decision.attempt
        seen.append((decision.model, decision.attempt, decision.delay))
    first, second = policy.backoff(1, 0.5), policy.backoff(2, 0.5)
    assert seen == [
        ("a", 2, first),
        ("a", 3, second),
        ("b", 4, 0.0),
        ("b", 5, first),
        ("b", 6, second),
        ("c", 7, 0.0),
        ("c", 8, first),
        ("c", 9, second),
    ]
    assert "(model 'c'); gave up after 2 retries" in decision.reason
    assert state.attempts == 9


def test_a_different_failure_on_the_fallback_model() -> None:
    state = new_state(("a", "b"), max_retries=1)
    assert isinstance(state.failed(Failure.TIMEOUT), Retry)
    decision = state.failed(Failure.CONNECTION)
    assert isinstance(decision, Retry)
    assert (decision.model, decision.delay) == ("b", 0.0)
    assert isinstance(state.failed(Failure.STATUS, status=401), GiveUp)
    assert state.attempts == 3


# ---- RetryState: Retry-After ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "now", "wait"),
    [
        ({"Retry-After": "3"}, None, 3.0),
        ({"Retry-After": "0"}, None, 0.0),
        ({"Retry-After": "60"}, None, 60.0),
        ({"retry-after-ms": "2500"}, None, 2.5),
        ({"Retry-After": IMF_EXAMPLE}, EXAMPLE_TIME - 12, 12.0),
        ({"Retry-After": ASCTIME_EXAMPLE}, EXAMPLE_TIME + 100, 0.0),
    ],
)
def test_retry_after_is_the_delay(headers: dict[str, str], now: float | None, wait: float) -> None:
    state = new_state(max_retries=2, max_retry_after=60.0)
    for attempt in (2, 3):
        decision = state.failed(Failure.STATUS, status=429, headers=headers, now=now, random=0.99)
        assert decision == Retry(delay=wait, model="a", attempt=attempt, reason=decision.reason)
        assert "retry after" in decision.reason
    assert isinstance(state.failed(Failure.STATUS, status=429, headers=headers, now=now), GiveUp)


def test_a_retry_after_date_without_now_uses_backoff() -> None:
    decision = new_state().failed(Failure.STATUS, status=503, headers={"Retry-After": IMF_EXAMPLE}, random=0.2)
    assert isinstance(decision, Retry)
    assert decision.delay == DEFAULT_RETRY_POLICY.backoff(1, 0.2)


def test_garbage_retry_after_uses_backoff() -> None:
    decision = new_state().failed(Failure.STATUS, status=503, headers={"Retry-After": "later"}, now=1e9)
    assert isinstance(decision, Retry)
    assert decision.delay == DEFAULT_RETRY_POLICY.backoff(1, 0.5)


@pytest.mark.parametrize(
    ("headers", "now"),
    [
        ({"Retry-After": "60.5"}, None),
        ({"Retry-After": "3600"}, None),
        ({"retry-after-ms": "61000"}, None),
        ({"Retry-After": IMF_EXAMPLE}, EXAMPLE_TIME - 3600),
    ],
)
def test_a_long_retry_after_gives_up_without_waiting(headers: dict[str, str], now: float | None) -> None:
    state = new_state(max_retries=5, max_retry_after=60.0)
    decision = state.failed(Failure.STATUS, status=503, headers=headers, now=now)
    assert isinstance(decision, GiveUp)
    assert "max_retry_after" in decision.reason
    assert state.attempts == 1


@pytest.mark.parametrize(
    ("headers", "now", "said"),
    [
        ({"Retry-After": "9" * 400}, None, "2147483648 s or more"),
        ({"retry-after-ms": "1" + "0" * 500}, None, "2147483648 s or more"),
        ({"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, EXAMPLE_TIME, "2147483648 s or more"),
        ({"Retry-After": "86400"}, None, "86400 s"),
    ],
)
def test_an_absurd_retry_after_is_not_waited_for_and_says_so(
    headers: dict[str, str], now: float | None, said: str
) -> None:
    state = new_state(("a", "b"), max_retries=5, max_retry_after=60.0)
    decision = state.failed(Failure.STATUS, status=429, headers=headers, now=now)
    assert isinstance(decision, Retry) and decision.delay == 0.0 and decision.model == "b"
    assert f"the server asked to retry after {said}, more than max_retry_after (60 s)" in decision.reason
    assert "inf" not in decision.reason
    decision = state.failed(Failure.STATUS, status=429, headers=headers, now=now)
    assert isinstance(decision, GiveUp) and "max_retry_after" in decision.reason


def test_a_policy_that_waits_for_ever_waits_no_longer_than_the_ceiling() -> None:
    # The policy's own bound is any finite number: the ceiling keeps an absurd wait finite.
    state = new_state(max_retries=1, max_retry_after=1e300)
    decision = state.failed(Failure.STATUS, status=503, headers={"Retry-After": "9" * 400})
    assert isinstance(decision, Retry) and decision.delay == RETRY_AFTER_CEILING


@pytest.mark.parametrize(
    ("headers", "now"),
    [({"Retry-After": "3600"}, None), ({"Retry-After": RFC850_EXAMPLE}, EXAMPLE_TIME - 3600)],
)
def test_a_long_retry_after_falls_back_at_once(headers: dict[str, str], now: float | None) -> None:
    state = new_state(("a", "b"), max_retries=5, max_retry_after=60.0)
    decision = state.failed(Failure.STATUS, status=429, headers=headers, now=now)
    assert decision == Retry(delay=0.0, model="b", attempt=2, reason=decision.reason, fallback_to="model 'b'")
    assert "max_retry_after" in decision.reason
    # The fallback model has its own retries, and the same long wait sends it to no one.
    assert isinstance(state.failed(Failure.STATUS, status=429, headers=headers, now=now), GiveUp)


def test_retry_after_is_ignored_for_errors_that_are_not_retried() -> None:
    decision = new_state().failed(Failure.STATUS, status=400, headers={"Retry-After": "1"})
    assert isinstance(decision, GiveUp)


# ---- RetryState: failures without a status --------------------------------------------------


@pytest.mark.parametrize("failure", [Failure.CONNECTION, Failure.TIMEOUT, Failure.EMPTY_RESPONSE])
def test_connection_timeout_and_empty_response_are_retried(failure: Failure) -> None:
    state = new_state(("a", "b"), max_retries=2)
    decisions = [state.failed(failure, random=0.1) for _ in range(6)]
    assert [(d.model, d.attempt) for d in decisions[:5] if isinstance(d, Retry)] == [
        ("a", 2),
        ("a", 3),
        ("b", 4),
        ("b", 5),
        ("b", 6),
    ]
    assert isinstance(decisions[5], GiveUp)
    assert decisions[5].reason


SERVER_FAILURES = {
    Failure.UNSUPPORTED_ENCODING: "the response body is in a content-coding that was not asked for",
    Failure.CORRUPT_ENCODING: "the response body does not decode in its content-coding",
}


@pytest.mark.parametrize("failure", list(SERVER_FAILURES))
@pytest.mark.parametrize(
    "headers",
    [{"Content-Encoding": "zstd"}, [("content-encoding", "gzip, br"), ("Retry-After", "1")], {}],
)
def test_a_body_the_server_would_send_so_again_gives_up_without_another_endpoint(
    failure: Failure, headers: Any
) -> None:
    # The server would send the same body again, to any model it serves; the error the driver
    # raises names the coding.
    state = new_state(("a", "b"), max_retries=5)
    decision = state.failed(failure, headers=headers, error_text=("overloaded", 503))
    assert isinstance(decision, GiveUp)
    assert state.attempts == 1 and state.model == "a"
    assert decision.reason == f"not retried: {SERVER_FAILURES[failure]} (model 'a')"


@pytest.mark.parametrize("failure", list(SERVER_FAILURES))
@pytest.mark.parametrize("max_retries", [0, 3])
def test_a_body_the_server_would_send_so_again_moves_to_the_next_endpoint_at_once(
    failure: Failure, max_retries: int
) -> None:
    # Neither a retry nor the main endpoint's fallback model: the next server's model, at once.
    state = RetryState(RetryPolicy(max_retries=max_retries), ["m", "small", "remote", "last"], endpoints=[0, 0, 1, 2])
    decision = state.failed(failure, headers={"Retry-After": "5"})
    assert isinstance(decision, Retry)
    assert (decision.model, decision.endpoint, decision.delay, decision.attempt) == ("remote", 1, 0.0, 2)
    assert (decision.fallback_to, decision.gave_up) == ("endpoint 1, model 'remote'", "")
    assert decision.reason == f"{SERVER_FAILURES[failure]} (model 'm'); falling back to endpoint 1, model 'remote'"
    decision = state.failed(failure)
    assert isinstance(decision, Retry) and (decision.model, decision.endpoint) == ("last", 2)
    assert isinstance(state.failed(failure), GiveUp)
    assert state.attempts == 3


@pytest.mark.parametrize(
    "texts",
    [
        ("The server is overloaded",),
        ("Overloaded", "overloaded_error"),
        ("Rate limit reached for requests",),
        (None, "rate_limit_exceeded"),
        ("internal", "server_error"),
        ("Service Unavailable",),
        ("please try again later",),
        ("upstream failure", 503),
        ("too many requests", 429),
    ],
)
def test_stream_errors_that_say_overload_are_retried(texts: tuple[object, ...]) -> None:
    state = new_state(max_retries=1)
    decision = state.failed(Failure.STREAM_ERROR, error_text=texts)
    assert isinstance(decision, Retry)
    assert decision.model == "a"
    assert isinstance(state.failed(Failure.STREAM_ERROR, error_text=texts), GiveUp)


@pytest.mark.parametrize(
    "texts",
    [(), ("something went wrong",), ("invalid tool call", "invalid_request_error"), ("bad", 400), ("bad", 200)],
)
def test_other_stream_errors_are_not_retried(texts: tuple[object, ...]) -> None:
    state = new_state(("a", "b"), max_retries=3)
    decision = state.failed(Failure.STREAM_ERROR, error_text=texts)
    assert isinstance(decision, GiveUp)
    assert decision.reason
    assert state.model == "a"


def test_retry_and_give_up_are_frozen() -> None:
    decision = new_state().failed(Failure.TIMEOUT)
    assert isinstance(decision, Retry)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        decision.delay = 0  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        GiveUp(reason="x").reason = "y"  # type: ignore[misc]


# ---- RetryState: any sequence of failures ---------------------------------------------------

header_values = st.one_of(
    st.tuples(st.just("Retry-After"), st.sampled_from(["0", "1", "2.5", "30", "59", "61", "3600", "-1", "nan", "x"])),
    st.tuples(st.just("retry-after-ms"), st.sampled_from(["0", "500", "20000", "90000", "-3", "inf"])),
    st.tuples(st.just("Retry-After"), st.sampled_from([IMF_EXAMPLE, RFC850_EXAMPLE, ASCTIME_EXAMPLE])),
    st.tuples(st.just("x-should-retry"), st.sampled_from(["true", "false", "maybe"])),
    st.tuples(st.just("Content-Type"), st.just("application/json")),
)
error_texts = st.lists(
    st.one_of(
        st.none(),
        st.integers(0, 600),
        st.sampled_from(["overloaded", "rate limit", "context_length_exceeded", "prompt is too long", "oops"]),
        st.text(max_size=10),
    ),
    max_size=3,
)


@st.composite
def failures(draw: st.DrawFn) -> dict[str, Any]:
    failure = draw(st.sampled_from(Failure))
    call: dict[str, Any] = {
        "failure": failure,
        "error_text": draw(error_texts),
        "random": draw(randoms),
        "now": draw(st.none() | st.floats(min_value=EXAMPLE_TIME - 120, max_value=EXAMPLE_TIME + 120)),
        "headers": draw(st.lists(header_values, max_size=3)),
    }
    if failure is Failure.STATUS:
        call["status"] = draw(st.sampled_from([*RETRY_STATUSES, 400, 401, 403, 404, 413, 422, 501]))
    return call


@given(
    policy=policies,
    models=st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True),
    calls=st.lists(failures(), max_size=30),
)
def test_any_sequence_of_failures(policy: RetryPolicy, models: list[str], calls: list[dict[str, Any]]) -> None:
    state = RetryState(policy, models)
    retries = 0
    index = 0
    same_model = dict.fromkeys(models, 0)
    ceiling = max(policy.max_delay * (1 + policy.jitter), policy.max_retry_after) * (1 + 1e-12)
    for call in calls:
        before = state._model_index
        decision = state.failed(**call)
        if isinstance(decision, Retry):  # a fallback says so in fields, not only in its reason
            moved = state._model_index != before
            assert decision.fallback_to == (f"model {decision.model!r}" if moved else "")
            assert decision.reason.endswith(f"; falling back to {decision.fallback_to}") == moved
            assert decision.gave_up in ("", "retries are off") or decision.gave_up.startswith("gave up after ")
            assert not decision.gave_up or moved
        assert isinstance(decision.reason, str)
        assert decision.reason
        if isinstance(decision, GiveUp):
            assert state.model == models[index]
            continue
        retries += 1
        assert decision.model in models
        new_index = models.index(decision.model)
        assert new_index >= index, "models never go backwards"
        if new_index > index:
            assert decision.delay == 0.0, "a fallback is tried at once"
        else:
            same_model[decision.model] += 1
        index = new_index
        assert 0.0 <= decision.delay <= ceiling
        assert decision.attempt == state.attempts == retries + 1
        assert state.model == decision.model
    assert retries <= len(models) * (policy.max_retries + 1) - 1
    assert all(count <= policy.max_retries for count in same_model.values())


# ---- fallback endpoints ------------------------------------------------------------------------

FAST = RetryPolicy(max_retries=1, initial_delay=0.001, jitter=0.0)


def test_fallback_endpoints_come_after_the_fallback_models() -> None:
    state = RetryState(FAST, ["m", "small", "remote"], endpoints=[0, 0, 1])
    assert (state.model, state.endpoint) == ("m", 0)
    decisions = [state.failed(Failure.STATUS, status=503) for _ in range(5)]
    retries = [d for d in decisions if isinstance(d, Retry)]
    assert [(d.model, d.endpoint) for d in retries] == [
        ("m", 0),
        ("small", 0),
        ("small", 0),
        ("remote", 1),
        ("remote", 1),
    ]
    assert retries[3].reason.endswith("falling back to endpoint 1, model 'remote'")
    assert [(d.fallback_to, d.gave_up) for d in retries] == [
        ("", ""),
        ("model 'small'", "gave up after 1 retry"),
        ("", ""),
        ("endpoint 1, model 'remote'", "gave up after 1 retry"),
        ("", ""),
    ]
    assert isinstance(state.failed(Failure.STATUS, status=503), GiveUp)


def test_an_unreachable_endpoint_is_left_with_its_fallback_models() -> None:
    state = RetryState(FAST, ["m", "small", "remote", "last"], endpoints=[0, 0, 1, 2])
    assert isinstance(state.failed(Failure.CONNECTION), Retry)  # its retry first
    decision = state.failed(Failure.CONNECTION)
    assert isinstance(decision, Retry) and (decision.model, decision.endpoint, decision.delay) == ("remote", 1, 0.0)
    decision = state.failed(Failure.TIMEOUT)
    assert isinstance(decision, Retry) and (decision.model, decision.endpoint) == ("remote", 1)
    decision = state.failed(Failure.TIMEOUT)
    assert isinstance(decision, Retry) and (decision.model, decision.endpoint) == ("last", 2)


def test_without_another_endpoint_the_fallback_models_are_still_tried() -> None:
    state = RetryState(FAST, ["m", "small"], endpoints=[0, 0])
    state.failed(Failure.CONNECTION)
    decision = state.failed(Failure.CONNECTION)
    assert isinstance(decision, Retry) and (decision.model, decision.endpoint) == ("small", 0)


def test_a_model_error_moves_to_the_next_model_of_the_same_endpoint() -> None:
    state = RetryState(FAST, ["m", "small", "remote"], endpoints=[0, 0, 1])
    decision = state.failed(Failure.STATUS, status=404)
    assert isinstance(decision, Retry) and (decision.model, decision.endpoint) == ("small", 0)


@pytest.mark.parametrize(
    ("endpoints", "match"), [([0], "1 endpoints for 2 models"), ([0, -1], "numbers from 0"), ([0, True], "numbers")]
)
def test_endpoints_are_checked(endpoints: list[Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RetryState(FAST, ["a", "b"], endpoints=endpoints)


failure_kinds = st.sampled_from(list(Failure))
statuses = st.sampled_from([404, 429, 500, 503, 400])


@given(
    groups=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    steps=st.lists(st.tuples(failure_kinds, statuses), min_size=1, max_size=30),
    retries=st.integers(0, 2),
)
def test_endpoints_are_visited_in_order_and_each_model_with_its_own(
    groups: list[int], steps: list[tuple[Failure, int]], retries: int
) -> None:
    """Whatever fails, the decisions walk the routes forwards: the endpoint never goes back,
    each retry names a model of its endpoint, and the attempts count up by one."""
    models = [f"m{e}-{i}" for e, size in enumerate(groups) for i in range(size)]
    endpoints = [e for e, size in enumerate(groups) for _ in range(size)]
    state = RetryState(RetryPolicy(max_retries=retries, jitter=0.0), models, endpoints=endpoints)
    position = 0
    for failure, status in steps:
        decision = state.failed(failure, status=status if failure is Failure.STATUS else None)
        if isinstance(decision, GiveUp):
            break
        index = models.index(decision.model)
        assert endpoints[index] == decision.endpoint == state.endpoint
        assert index >= position
        if failure in (Failure.UNSUPPORTED_ENCODING, Failure.CORRUPT_ENCODING):
            assert decision.endpoint > endpoints[position]  # never the same server again
        position = index
        assert decision.attempt == state.attempts
