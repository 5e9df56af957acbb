"""Logging under the ``anyagent`` logger, and the scrubbing that keeps credentials out of it.

What is logged where (nothing is printed unless your logging configuration asks for it; the
``anyagent`` logger has a ``NullHandler``, as a library's should):

=====================  ========  ==========================================================
logger                 level     what
=====================  ========  ==========================================================
``anyagent.run``       DEBUG     a run starts: model, base URL (credentials removed), session
``anyagent.run``       INFO      a run ends: result subtype, turns, tokens, cost, seconds
``anyagent.run``       WARNING   a run ends with an error (its type and message)
``anyagent.request``   DEBUG     a request attempt goes out, and how it ended (status,
                                 finish reason, tokens, seconds)
``anyagent.request``   WARNING   an attempt failed (status, error type and message)
``anyagent.request``   INFO      a retry is decided: the delay, the attempt, the model
``anyagent.tools``     DEBUG     a tool call starts and ends (name, call id, ok or error)
``anyagent.tools``     WARNING   a tool call ended without a result (a hook raised)
``anyagent.context``   INFO      older messages were left out of a request (compaction)
``anyagent.files``     WARNING   a skill, agent or settings file was skipped, and why
=====================  ========  ==========================================================

Message content (prompts, answers, tool arguments and results) is never logged. API keys, the
values of ``extra_headers``, credentials in the base URL and ``Authorization`` values are
never logged either: every line anyagent writes passes through a ``Scrubber`` holding the
secrets the client knows, and while a client is open a filter on the ``httpx`` and
``httpcore.*`` loggers scrubs their lines the same way (httpx logs each request's URL, query
string included, at INFO; httpcore's DEBUG traces hold the response headers). A key shorter
than ``MIN_SECRET_LENGTH`` is scrubbed only where it stands as a whole token (``_secrets``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

import attrs

from anyagent_core import Endpoint, ResultMessage, SendRequest, ServerError, ToolResultBlock, ToolUseBlock, Wait
from anyagent_core.regex import lazy_pattern
from anyagent_core.wire import redact_url

from ._attempt import Interrupted
from ._observe import AttemptInfo, Observer, RunInfo
from ._secrets import MIN_SECRET_LENGTH, REDACTED, secret_pattern

__all__ = [
    "LOGGER",
    "REDACTED",
    "RunLogger",
    "Scrubber",
    "endpoint_secrets",
    "logger",
    "protect_httpx_logs",
    "scrub",
    "scrub_error",
]

#: The root of anyagent's loggers.
LOGGER = logging.getLogger("anyagent")
LOGGER.addHandler(logging.NullHandler())

# Secrets shorter than MIN_SECRET_LENGTH that were found (in a URL, a header) rather than given
# are not searched for; a short API key is, as a whole token only (``_secrets``).

_SECRET_WORDS = ("key", "token", "sig", "secret", "auth", "password", "cookie")


# What looks like a credential, compiled with the first text scrubbed, not on import.
_KEY_LIKE = lazy_pattern(r"\b(?:sk|pk|rk|gsk|xai)-[A-Za-z0-9_-]{16,}")  # OpenAI-style keys
_BEARER = lazy_pattern(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}")
_QUERY_SECRET = lazy_pattern(r"(?i)([?&][^=&\s\"']*(?:key|token|sig|secret|auth|password)[^=&\s\"']*=)[^&\s\"']+")
_USERINFO = lazy_pattern(r"(?i)(https?://)[^/@\s\"']+@")


def logger(name: str) -> logging.Logger:
    """The ``anyagent.<name>`` logger."""
    return LOGGER.getChild(name)


class Scrubber:
    """Replaces secrets in text: the ``secrets`` given (one shorter than ``MIN_SECRET_LENGTH``
    only where it stands as a whole token, so that a one-character key does not take that
    character out of every message; see ``_secrets``), and whatever looks like a credential
    (``Bearer ...`` values, ``sk-...`` keys, URL user info, query parameters named like keys or
    tokens)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {secret for secret in secrets if secret}
        self.secrets = tuple(sorted(unique, key=len, reverse=True))  # longest first: no partial leftovers
        pattern = secret_pattern(self.secrets)
        self._secrets = re.compile(pattern) if pattern else None

    def __call__(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(REDACTED, text)
        text = _KEY_LIKE().sub(REDACTED, text)
        text = _BEARER().sub(lambda match: f"{match.group(1)} {REDACTED}", text)
        text = _QUERY_SECRET().sub(lambda match: match.group(1) + REDACTED, text)
        return _USERINFO().sub(lambda match: f"{match.group(1)}{REDACTED}@", text)

    def __repr__(self) -> str:
        return f"Scrubber(<{len(self.secrets)} secrets>)"


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with ``secrets`` and anything that looks like a credential replaced by ``<redacted>``."""
    return Scrubber(secrets)(text)


def endpoint_secrets(endpoint: Endpoint) -> tuple[str, ...]:
    """The secrets a client knows: the API key, the values of its extra headers, and the
    credentials in its base URL (user info, query parameters named like keys or tokens)."""
    found: list[str] = []
    if endpoint.api_key:
        found.append(endpoint.api_key)
    for _, value in endpoint.headers:
        value = value.strip()
        if len(value) >= MIN_SECRET_LENGTH:
            found.append(value)
            scheme, _, credentials = value.partition(" ")
            if scheme.lower() in ("bearer", "basic", "token") and len(credentials.strip()) >= MIN_SECRET_LENGTH:
                found.append(credentials.strip())
    parts = urlsplit(endpoint.base_url)
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        user, _, password = userinfo.partition(":")
        found += [userinfo, unquote(user), unquote(password)]
    for item in parts.query.split("&"):
        name, _, value = item.partition("=")
        if value and any(word in unquote_plus(name).lower() for word in _SECRET_WORDS):
            found += [value, unquote_plus(value)]
    return tuple(secret for secret in found if len(secret) >= MIN_SECRET_LENGTH or secret == endpoint.api_key)


def scrub_error(error: BaseException, scrubber: Scrubber) -> BaseException:
    """``error`` with the secrets scrubbed from its text (in place, returned): its arguments,
    ``message``, notes, and an ``APIStatusError``'s body, headers and server error. A server that
    echoes the key back (``"Incorrect API key provided: sk-..."``) must not put it in a traceback."""
    error.args = tuple(scrubber(arg) if isinstance(arg, str) else arg for arg in error.args)
    for name in ("message", "body"):
        value = getattr(error, name, None)
        if isinstance(value, str):
            setattr(error, name, scrubber(value))
    headers = getattr(error, "headers", None)
    if isinstance(headers, dict):
        for key, value in headers.items():
            if isinstance(value, str):
                headers[key] = scrubber(value)
    server_error = getattr(error, "error", None)
    if isinstance(server_error, ServerError):
        error.error = attrs.evolve(  # type: ignore[attr-defined]
            server_error, message=scrubber(server_error.message), body=scrubber(server_error.body)
        )
    notes = getattr(error, "__notes__", None)
    if isinstance(notes, list):
        notes[:] = [scrubber(note) if isinstance(note, str) else note for note in notes]
    return error


# ---- httpx's own log lines ----------------------------------------------------------------


class _SecretFilter(logging.Filter):
    """Scrubs the records of a third-party logger with the secrets of the open clients."""

    def __init__(self) -> None:
        super().__init__("anyagent-secrets")
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._scrubber = Scrubber()

    def add(self, secrets: Iterable[str]) -> None:
        if not secrets:
            return  # nothing to scrub (a local server without a key): the scrubber stays as it is
        with self._lock:
            self._counts.update(set(secrets))
            self._scrubber = Scrubber(self._counts)

    def remove(self, secrets: Iterable[str]) -> None:
        if not secrets:
            return
        with self._lock:
            self._counts.subtract(set(secrets))
            self._counts = +self._counts  # drop what no open client knows any more
            self._scrubber = Scrubber(self._counts)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format: leave it to the handler to report
            return True
        cleaned = self._scrubber(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_HTTPX_FILTER = _SecretFilter()
#: httpx logs each request line at INFO; httpcore's DEBUG traces hold the response headers (a key
#: echoed in one). A logger's filters apply only to the records logged to it, so each is named.
_PROTECTED_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


class _Protection:
    """The secrets one client added to the filter; ``release()`` takes them out again."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._secrets: tuple[str, ...] | None = secrets

    def release(self) -> None:
        if self._secrets is not None:
            _HTTPX_FILTER.remove(self._secrets)
            self._secrets = None


_PROTECTED: list[logging.Logger] = []
"""The loggers of ``_PROTECTED_LOGGERS``, looked up once (``logging.getLogger`` takes a lock)."""


def protect_httpx_logs(secrets: Iterable[str]) -> _Protection:
    """Scrub ``secrets`` (and credential-looking text) from httpx's log records until
    ``release()``; the filter is installed on the ``httpx`` logger once."""
    items = tuple(secrets)
    if not _PROTECTED:
        _PROTECTED.extend(logging.getLogger(name) for name in _PROTECTED_LOGGERS)
    for target in _PROTECTED:
        if _HTTPX_FILTER not in target.filters:
            target.addFilter(_HTTPX_FILTER)
    _HTTPX_FILTER.add(items)
    return _Protection(items)


# ---- a run's log lines --------------------------------------------------------------------

_RUN = logger("run")
_REQUEST = logger("request")
_TOOLS = logger("tools")
_CONTEXT = logger("context")


def _tokens(value: int | None) -> str:
    return "?" if value is None else str(value)


class RunLogger(Observer):
    """The observer every client has: it writes a run's progress to the ``anyagent.*`` loggers
    (see the module's table), scrubbed of ``scrubber``'s secrets. Cheap when nothing listens:
    each line is built only if its logger is enabled for its level."""

    def __init__(self, scrubber: Scrubber) -> None:
        self._scrub = scrubber

    def _error(self, error: BaseException) -> str:
        return f"{type(error).__name__}: {self._scrub(str(error))}"

    def run_started(self, run: RunInfo) -> None:
        if _RUN.isEnabledFor(logging.DEBUG):
            _RUN.debug(
                "run started: model %s at %s, session %s%s, tools: %s",
                run.model,
                self._scrub(redact_url(run.base_url)),
                run.session_id,
                f", agent {run.agent}" if run.agent else "",
                ", ".join(run.tools) or "none",
            )
        return None

    def run_ended(self, result: ResultMessage | None, error: BaseException | None) -> None:
        if result is not None:
            if _RUN.isEnabledFor(logging.INFO):
                usage = result.usage
                cost = f", ${result.total_cost_usd:.6f}" if result.total_cost_usd is not None else ""
                _RUN.info(
                    "run ended: %s after %d turn(s), %s tokens%s, %.3f s",
                    result.subtype,
                    result.num_turns,
                    _tokens(usage.total_tokens if usage is not None else None),
                    cost,
                    result.duration_ms / 1000,
                )
        elif error is not None:
            if isinstance(error, GeneratorExit):
                _RUN.debug("run stopped: the caller stopped reading")
            elif not isinstance(error, Exception):  # cancellation, KeyboardInterrupt
                _RUN.debug("run stopped: %s", type(error).__name__)
            elif _RUN.isEnabledFor(logging.WARNING):
                _RUN.warning("run failed: %s", self._error(error))

    def attempt_started(self, request: SendRequest, url: str) -> None:
        if _REQUEST.isEnabledFor(logging.DEBUG):
            _REQUEST.debug(
                "request: turn %d attempt %d, model %s%s, to %s",
                request.turn_number,
                request.attempt,
                request.turn.model,
                f" ({request.side})" if request.side else "",
                self._scrub(redact_url(url)),
            )

    def attempt_ended(self, request: SendRequest, info: AttemptInfo) -> None:
        error = info.error
        if error is None or isinstance(error, Interrupted) or not isinstance(error, Exception):
            if _REQUEST.isEnabledFor(logging.DEBUG):
                usage = info.usage
                _REQUEST.debug(
                    "answer: turn %d attempt %d, HTTP %s, finish %s, %s prompt + %s completion tokens, %.3f s%s",
                    request.turn_number,
                    request.attempt,
                    info.status if info.status is not None else "-",
                    info.finish_reason or "-",
                    _tokens(usage.prompt_tokens if usage is not None else None),
                    _tokens(usage.completion_tokens if usage is not None else None),
                    info.seconds,
                    " (interrupted)" if error is not None else "",
                )
        elif _REQUEST.isEnabledFor(logging.WARNING):
            _REQUEST.warning(
                "request failed: turn %d attempt %d, HTTP %s: %s",
                request.turn_number,
                request.attempt,
                info.status if info.status is not None else "-",
                self._error(error),
            )

    def retry(self, wait: Wait, error: BaseException | None) -> None:
        if _REQUEST.isEnabledFor(logging.INFO):
            _REQUEST.info(
                "retrying in %.3g s: attempt %d, model %s (%s)",
                wait.seconds,
                wait.attempt,
                wait.model,
                self._scrub(wait.reason),
            )

    def tool_started(self, call: ToolUseBlock) -> None:
        _TOOLS.debug("tool started: %s (%s)", call.name, call.id)

    def tool_ended(self, call: ToolUseBlock, result: ToolResultBlock, seconds: float) -> None:
        _TOOLS.debug(
            "tool ended: %s (%s), %s, %.3f s", call.name, call.id, "error" if result.is_error else "ok", seconds
        )

    def tool_failed(self, call: ToolUseBlock, error: BaseException, seconds: float) -> None:
        if isinstance(error, Exception) and not isinstance(error, Interrupted):
            if _TOOLS.isEnabledFor(logging.WARNING):
                _TOOLS.warning("tool failed: %s (%s) after %.3f s: %s", call.name, call.id, seconds, self._error(error))
        else:
            _TOOLS.debug("tool stopped: %s (%s) after %.3f s", call.name, call.id, seconds)

    def compaction(self, data: Mapping[str, Any]) -> None:
        if _CONTEXT.isEnabledFor(logging.INFO):
            numbers = {key: value for key, value in data.items() if isinstance(value, int | float)}
            _CONTEXT.info("compaction: %s", ", ".join(f"{key} {value}" for key, value in sorted(numbers.items())))
