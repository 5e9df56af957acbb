"""``AgentOptions`` and the configuration helpers: where the environment is read (never in the core).

Precedence for the base URL, the model and the API key: an explicit argument, then the
environment (``ANY_AGENT_BASE_URL``, ``ANY_AGENT_MODEL``, ``ANY_AGENT_API_KEY``), then a fallback
the caller gives, then the provider's default.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from anyagent_core import (
    PATH_RULE_TOOLS,
    Config,
    DoomLoopAction,
    Endpoint,
    LoopSettings,
    OutputMode,
    PermissionMode,
    PermissionPolicy,
    PermissionRule,
    RetryPolicy,
    StartTurn,
    ToolChoice,
    ToolMode,
    ToolSpec,
    __version__,
)
from anyagent_core.context import ContextStrategy, TokenCounter
from anyagent_core.json import JSONObject, freeze_object
from anyagent_core.settings import (
    KNOBS,
    NO_PRICING,
    PERMISSION_MODES,
    checks,
    knob,
    knob_validator,
    str_tuple,
    validator,
)
from anyagent_core.value import Record, Value
from anyagent_core.wire import redact_url

from ._attempt import StreamLimits
from ._errors import ConfigurationError
from ._hints import load_on_read
from ._observe import Observer
from ._tools import SANDBOX_MODES, SandboxMode

if TYPE_CHECKING:
    import httpx

    from anyagent_core import LoopTool, Pricing

    from ._definitions import AgentDefinition as AgentDefinition
    from ._definitions import FallbackEndpoint
    from ._hooks import HookEvent, HookMatcher
    from ._logging import Scrubber
    from ._memories import Memory
    from ._permissions import CanUseTool
    from ._sessions import SessionStore
    from ._tools import Tool
    from ._transports import AsyncTransport

__all__ = [
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_MODEL",
    "PROVIDERS",
    "AgentOptions",
    "FallbackEndpoint",
    "get_api_key",
    "get_base_url",
    "get_model",
]

ENV_BASE_URL = "ANY_AGENT_BASE_URL"
ENV_MODEL = "ANY_AGENT_MODEL"
ENV_API_KEY = "ANY_AGENT_API_KEY"

#: Each provider's usual local address (or OpenAI's API).
PROVIDERS: Mapping[str, str] = {
    "lmstudio": "http://localhost:1234/v1",
    "ollama": "http://localhost:11434/v1",
    "llamacpp": "http://localhost:8080/v1",
    "vllm": "http://localhost:8000/v1",
    "openai": "https://api.openai.com/v1",
}


#: The core's defaults, with an ``anyagent/<version>`` User-Agent.
CLIENT_CONFIG = Config(user_agent=f"anyagent/{__version__}")


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _url_repr(url: str | None) -> str:
    """A base URL in a repr: user info and the query string (where keys go) left out."""
    return repr(url if url is None else redact_url(url))


def _extra_body_repr(body: JSONObject) -> str:
    """The extra body in a repr: its keys only (a value may be a key)."""
    return repr(dict.fromkeys(body, "<redacted>"))


def _headers_repr(headers: tuple[tuple[str, str], ...]) -> str:
    """Extra headers in a repr: the names only (their values are often keys)."""
    return repr(tuple((name, "<redacted>") for name, _ in headers))


def get_base_url(
    base_url: str | None = None,
    *,
    provider: str | None = None,
    fallback: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The base URL to use: ``base_url``, else ``$ANY_AGENT_BASE_URL``, else ``fallback``, else
    ``provider``'s default (one of ``PROVIDERS``). Raises ``ConfigurationError`` if none applies
    or the provider is unknown. ``env`` replaces ``os.environ`` (for tests)."""
    if provider is not None and provider not in PROVIDERS:
        raise ConfigurationError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    value = base_url or _environ(env).get(ENV_BASE_URL) or fallback
    if not value and provider is not None:
        value = PROVIDERS[provider]
    if not value:
        raise ConfigurationError(
            f"no base URL: pass base_url=, set {ENV_BASE_URL}, or name a provider ({', '.join(PROVIDERS)})"
        )
    if not value.startswith(("http://", "https://")):
        raise ConfigurationError(f"base URL must start with http:// or https://, not {value!r}")
    return value


def get_model(model: str | None = None, *, fallback: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The model name: ``model``, else ``$ANY_AGENT_MODEL``, else ``fallback``; raises
    ``ConfigurationError`` naming the variable when there is none."""
    value = model or _environ(env).get(ENV_MODEL) or fallback
    if not value:
        raise ConfigurationError(f"no model: pass model= or set {ENV_MODEL}")
    return value


def get_api_key(
    api_key: str | None = None, *, fallback: str | None = None, env: Mapping[str, str] | None = None
) -> str | None:
    """The API key: ``api_key``, else ``$ANY_AGENT_API_KEY``, else ``fallback``; None if none
    (local servers need none)."""
    return api_key or _environ(env).get(ENV_API_KEY) or fallback or None


ToolItem: TypeAlias = "str | Tool | ToolSpec"
"""A built-in tool's name, a ``Tool`` (``@tool``), or a ``ToolSpec`` whose calls you answer."""


def _sequence(name: str, value: Any) -> tuple[Any, ...]:
    """``value`` as a tuple: a lone string stands for itself (``tools="bash"`` is one tool, not
    four letters); what is not a sequence is refused, naming the option."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise ConfigurationError(f"{name} must be a list, not {type(value).__name__}")
    return tuple(value)


def _tool_class() -> type[Tool]:
    """``Tool``, loaded with the first options that name a tool other than a ``ToolSpec``."""
    from ._tools._tool import Tool

    return Tool


def _tools(value: Sequence[ToolItem]) -> tuple[ToolItem, ...]:
    tools = _sequence("tools", value)
    names: set[str] = set()
    for item in tools:
        if isinstance(item, str):
            from ._tools import BUILTIN_TOOLS  # loaded only for options that name one

            if item not in BUILTIN_TOOLS:
                raise ConfigurationError(f"unknown built-in tool {item!r}; known: {', '.join(BUILTIN_TOOLS)}")
            name = item
        elif isinstance(item, ToolSpec | _tool_class()):
            name = item.name
        else:
            raise TypeError(
                "tools are built-in tool names, Tool values (from @tool) or ToolSpec values (calls you answer), "
                f"not {type(item).__name__}"
            )
        if name in names:
            raise ConfigurationError(f"two tools are named {name!r}")
        names.add(name)
    return tools


def _rules(name: str, value: Sequence[str]) -> tuple[str, ...]:
    rules = _sequence(name, value)
    for rule in rules:
        PermissionRule.parse(rule)  # raises, naming the rule
    return rules


def _allowed_rules(value: Sequence[str]) -> tuple[str, ...]:
    return _rules("allowed_tools", value)


def _disallowed_rules(value: Sequence[str]) -> tuple[str, ...]:
    return _rules("disallowed_tools", value)


def _valid(check: checks.Check) -> Any:
    """An attrs validator that raises ``ConfigurationError`` naming the field."""
    return validator(check, error=ConfigurationError)


def _json_object(name: str, value: Mapping[str, Any]) -> JSONObject:
    """``value`` as a read-only JSON object; ``ConfigurationError`` naming the field otherwise."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{name} must be a JSON object (a dict), not {type(value).__name__}")
    try:
        return freeze_object(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name} is not JSON: {exc}") from None


def _output_format(value: Mapping[str, Any] | None) -> JSONObject | None:
    return None if value is None else _json_object("output_format", value)


def _extra_body(value: Mapping[str, Any]) -> JSONObject:
    return _json_object("extra_body", value)


def _hooks(value: Mapping[HookEvent, Sequence[HookMatcher]]) -> Mapping[HookEvent, tuple[HookMatcher, ...]]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"hooks must be a mapping of hook events to HookMatcher lists, not {type(value).__name__}"
        )
    hooks: dict[HookEvent, tuple[HookMatcher, ...]] = {}
    if not value:
        return hooks
    from ._hooks import HOOK_EVENTS, HookMatcher  # loaded when options name hooks

    for event, matchers in value.items():
        if event not in HOOK_EVENTS:
            raise ConfigurationError(f"unknown hook event {event!r}; known: {', '.join(HOOK_EVENTS)}")
        matchers = tuple(matchers)
        for matcher in matchers:
            if not isinstance(matcher, HookMatcher):
                raise TypeError(f"hooks[{event!r}] holds HookMatcher values, not {type(matcher).__name__}")
        hooks[event] = matchers
    return hooks


def _callable_or_none(name: str, value: object) -> None:
    if value is not None and not callable(value):
        raise ValueError(f"{name} must be a callable or None, not {type(value).__name__}")


def _http_client_or_none(name: str, value: object) -> None:
    if value is None:
        return
    import httpx  # only here: importing the options does not load httpx

    if not isinstance(value, httpx.AsyncClient):
        raise ValueError(f"{name} must be an httpx.AsyncClient or None, not {type(value).__name__}")


def _transport_or_none(name: str, value: object) -> None:
    if value is not None and not callable(getattr(value, "exchange", None)):
        raise ValueError(
            f"{name} must be an AsyncTransport (with an exchange method) or None, not {type(value).__name__}"
        )


def _path(name: str, value: object) -> str:
    if not isinstance(value, str | os.PathLike):
        raise ConfigurationError(f"{name} must be a path (a str or os.PathLike), not {type(value).__name__}")
    path = os.fspath(value)
    if not isinstance(path, str):
        raise ConfigurationError(f"{name} must be a text path, not {type(path).__name__}")
    return path


def _optional_path(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else _path("cwd", value)


def _paths(name: str, value: Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    if isinstance(value, str | os.PathLike):
        value = (value,)
    if not isinstance(value, Sequence | set | frozenset):
        raise ConfigurationError(f"{name} must be a list of paths, not {type(value).__name__}")
    return tuple(_path(f"{name}[{index}]", path) for index, path in enumerate(value))


def _allowed_dirs(value: Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    return _paths("allowed_dirs", value)


def _skill_dirs(value: Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    return _paths("skill_dirs", value)


def __getattr__(name: str) -> Any:
    """``AgentDefinition`` and ``FallbackEndpoint``, made on first use (``_definitions``)."""
    if name in ("AgentDefinition", "FallbackEndpoint"):
        from . import _definitions

        value = getattr(_definitions, name)
        globals()[name] = value  # the next lookup is an ordinary one
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "AgentDefinition", "FallbackEndpoint"})


def _agents(value: Mapping[str, AgentDefinition]) -> Mapping[str, AgentDefinition]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"agents must be a mapping of names to AgentDefinition values, not {type(value).__name__}"
        )
    agents = dict(value)
    if agents:
        from ._definitions import AgentDefinition  # only for options with subagents
    for name, definition in agents.items():
        if not isinstance(definition, AgentDefinition):
            raise TypeError(f"agents[{name!r}] must be an AgentDefinition, not {type(definition).__name__}")
    return agents


def _is_fallback_endpoint(value: object) -> bool:
    """Whether ``value`` is a ``FallbackEndpoint``, without making the class: none can exist
    before its module made it (the module may be in ``sys.modules`` half run, another thread
    loading it)."""
    cls = getattr(sys.modules.get("anyagent_httpx._definitions"), "FallbackEndpoint", None)
    return cls is not None and isinstance(value, cls)


def _fallback_endpoints(value: Sequence[FallbackEndpoint | Mapping[str, Any]]) -> tuple[FallbackEndpoint, ...]:
    if isinstance(value, Mapping | str) or _is_fallback_endpoint(value):
        raise ConfigurationError("fallback_endpoints is a sequence of FallbackEndpoint (or of dicts), in order")
    items: list[FallbackEndpoint] = []
    for number, item in enumerate(value):
        from ._definitions import FallbackEndpoint  # only for options with fallback endpoints

        if isinstance(item, FallbackEndpoint):
            items.append(item)
            continue
        if not isinstance(item, Mapping):
            raise ConfigurationError(
                f"fallback_endpoints[{number}] must be a FallbackEndpoint or a dict, not {type(item).__name__}"
            )
        unknown = set(item) - {"base_url", "model", "api_key"}
        if unknown or "base_url" not in item or "model" not in item:
            raise ConfigurationError(
                f"fallback_endpoints[{number}] takes base_url, model and api_key"
                + (f", not {', '.join(sorted(map(str, unknown)))}" if unknown else "; base_url and model are needed")
            )
        try:
            items.append(FallbackEndpoint(**item))
        except ConfigurationError as exc:
            raise ConfigurationError(f"fallback_endpoints[{number}]: {exc}") from None
    return tuple(items)


def _session_store_protocol() -> type[SessionStore]:
    from ._sessions import SessionStore  # only for options naming a store

    return SessionStore


def _check_session_options(options: AgentOptions) -> None:
    store = options.session_store
    if store is not None and not isinstance(store, _session_store_protocol()):
        raise ConfigurationError(f"session_store must be a SessionStore, not {type(store).__name__}")
    if options.resume is not None and options.continue_conversation:
        raise ConfigurationError("pass resume= or continue_conversation=True, not both")
    wants = None
    if options.resume is not None:
        wants = "resume"
    elif options.continue_conversation:
        wants = "continue_conversation"
    if wants is not None and store is None:
        raise ConfigurationError(f"{wants} needs a session_store to resume from")
    if options.fork_session and wants is None:
        raise ConfigurationError("fork_session needs resume= or continue_conversation=True: there is nothing to fork")
    if options.session_id is not None and wants is not None and not options.fork_session:
        raise ConfigurationError(
            f"session_id names a new session; with {wants} the session is the resumed one (add fork_session=True "
            "to go on in a new session of that id)"
        )


def _check_memory_options(options: AgentOptions) -> None:
    memory = options.memory
    if memory is None:
        if options.inject_memories:
            raise ConfigurationError("inject_memories needs memory= (a Memory over a session store)")
        return
    from ._memories import MEMORY_TOOLS, Memory  # only for options with a memory

    if not isinstance(memory, Memory):
        raise ConfigurationError(f"memory must be a Memory, not {type(memory).__name__}")
    if options.memory_tools:
        for item in options.tools:
            name = item if isinstance(item, str) else item.name
            if name in MEMORY_TOOLS:
                raise ConfigurationError(
                    f"a tool is named {name!r}, the name of a memory tool: rename it or pass memory_tools=False"
                )


def _agent_tools(definition: AgentDefinition) -> tuple[str, ...]:
    tools = definition.tools or ()
    return tuple(item if isinstance(item, str) else item.name for item in tools)


def _mcp_servers(value: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"mcp_servers maps server names to their configurations, not {type(value).__name__}")
    if not value:
        return {}
    from ._mcp import check_server_config  # only for options with servers
    from ._tools._server import _NAME

    servers: dict[str, Mapping[str, Any]] = {}
    for key, config in value.items():
        if not isinstance(key, str) or not _NAME.fullmatch(key):
            raise ConfigurationError(f"mcp_servers: a server's name is letters, digits, '_' and '-', not {key!r}")
        try:
            servers[key] = check_server_config(key, config)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
    return servers


def _observers(value: Sequence[Observer]) -> tuple[Observer, ...]:
    items = tuple(value)
    for item in items:
        if not isinstance(item, Observer):
            raise ConfigurationError(f"observers holds Observer values, not {type(item).__name__}")
    return items


def _header_pairs(value: Mapping[str, str] | Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(value.items()) if isinstance(value, Mapping) else tuple(value)


def _stop(value: Sequence[str]) -> tuple[str, ...]:
    return _sequence("stop", value)


class _Derived(Record):
    """What was last made from one live ``AgentOptions`` (client after client of a one-shot
    ``query()`` asks for the same), each beside what it was made from besides the options'
    frozen fields: the environment's values read, the working directory, the tools."""

    __slots__ = ("endpoint", "fallbacks", "limits", "ref", "scrubber", "settings")

    def __init__(self, ref: weakref.ref[AgentOptions]) -> None:
        self.ref = ref
        # Each value is kept in one attribute with what it was made from, so that a thread
        # reading it never pairs one value with another's inputs (two attribute writes can be
        # interleaved).
        self.endpoint: tuple[tuple[str | None, str | None], Endpoint] | None = None
        """The ``$ANY_AGENT_BASE_URL`` and ``$ANY_AGENT_API_KEY`` values the endpoint was made
        with (None for one not read: the option of the same name was given), and the endpoint."""
        self.fallbacks: tuple[Endpoint, ...] | None = None
        self.limits: StreamLimits | None = None
        self.settings: tuple[tuple[Any, ...], LoopSettings] | None = None
        self.scrubber: tuple[Endpoint, tuple[Endpoint, ...], tuple[str, ...], Scrubber] | None = None
        """The endpoints (these very objects) the secrets were found in, the secrets, and their
        ``Scrubber``."""

    def __repr__(self) -> str:
        # What is kept holds the API keys and the environment's values read: only which are kept.
        kept = [name for name in self.__slots__ if name != "ref" and getattr(self, name) is not None]
        return f"_Derived(kept=[{', '.join(kept)}])"


#: The values made from each live ``AgentOptions`` (by identity: options compare by value, and
#: hashing them would cost what the cache saves). Every field is frozen, so only the inputs
#: from outside the options are checked before a kept value is handed out again.
_DERIVED: dict[int, _Derived] = {}


def _forget_derived(key: int) -> Callable[[object], None]:
    """The callback that drops an ``AgentOptions``' kept values when it is collected."""

    def forget(_: object) -> None:
        _DERIVED.pop(key, None)

    return forget


def _derived(options: AgentOptions) -> _Derived:
    """The record of what was made from ``options``, made empty the first time."""
    key = id(options)
    kept = _DERIVED.get(key)
    if kept is None or kept.ref() is not options:
        kept = _DERIVED[key] = _Derived(weakref.ref(options, _forget_derived(key)))
    return kept


def _same_json(a: object, b: object) -> bool:
    """``a`` and ``b`` are written as the same JSON text: equal to the type (``1``, ``1.0`` and
    ``true`` compare equal in Python, not on the wire) and to the order of object keys."""
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b):
        return False
    if isinstance(a, Mapping):
        assert isinstance(b, Mapping)
        return len(a) == len(b) and all(x == y and _same_json(a[x], b[y]) for x, y in zip(a, b, strict=True))
    if isinstance(a, tuple | list):
        assert isinstance(b, tuple | list)
        return len(a) == len(b) and all(map(_same_json, a, b))
    if kind is float:
        return repr(a) == repr(b)  # 0.0 and -0.0 are equal, written apart
    return a == b


def _same_tools(kept: tuple[LoopTool, ...], tools: tuple[LoopTool, ...]) -> bool:
    """``tools`` are ``kept``'s, down to what their specs put on the wire."""
    return len(kept) == len(tools) and all(
        old is new
        or (old == new and old.spec.strict is new.spec.strict and _same_json(old.spec.parameters, new.spec.parameters))
        for old, new in zip(kept, tools, strict=True)
    )


#: ``os.getcwd()`` names the directory itself, every symlink on the way resolved, where the
#: kernel builds the path from the directory (Linux, macOS): ``realpath`` of it is itself.
#: Elsewhere (Windows keeps the path as it was given) the path is resolved.
_GETCWD_IS_REAL = sys.platform.startswith(("linux", "darwin"))


def _real_cwd(cwd: str | None) -> str:
    """``cwd`` (the process's working directory if None) with every symlink resolved."""
    if cwd is None:
        here = os.getcwd()
        return here if _GETCWD_IS_REAL else os.path.realpath(here)
    return os.path.realpath(cwd)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class AgentOptions(Value):
    """How to run: which server and model, sampling, tools, retries and streaming.

    Every field is optional. ``model``, ``base_url`` and ``api_key`` left as None are taken from
    the environment when the client opens (``get_model``, ``get_base_url``, ``get_api_key``).
    """

    model: str | None = attrs.field(default=None, validator=_valid(checks.nonempty_str_or_none))
    base_url: str | None = attrs.field(default=None, repr=_url_repr, validator=_valid(checks.base_url_or_none))
    provider: str | None = attrs.field(
        default=None, validator=_valid(checks.one_of_or_none(tuple(PROVIDERS), "provider"))
    )
    """``lmstudio``, ``ollama``, ``llamacpp``, ``vllm`` or ``openai``: its default URL is used
    when neither ``base_url`` nor ``$ANY_AGENT_BASE_URL`` is set."""
    api_key: str | None = attrs.field(default=None, repr=False, validator=_valid(checks.str_or_none))
    system_prompt: str | None = attrs.field(default=None, validator=_valid(checks.str_or_none))
    max_turns: int | None = knob("max_turns", error=ConfigurationError)
    """Model requests allowed per response (each tool round trip is one more); None: no limit."""
    max_tokens: int | None = attrs.field(default=None, validator=_valid(checks.positive_int_or_none))
    """The longest answer, in tokens, per request."""
    temperature: float | None = attrs.field(default=None, validator=_valid(checks.non_negative_number_or_none))
    top_p: float | None = attrs.field(default=None, validator=_valid(checks.non_negative_number_or_none))
    presence_penalty: float | None = attrs.field(default=None, validator=_valid(checks.number_or_none))
    frequency_penalty: float | None = attrs.field(default=None, validator=_valid(checks.number_or_none))
    seed: int | None = attrs.field(default=None, validator=_valid(checks.int_or_none))
    stop: tuple[str, ...] = attrs.field(default=(), converter=_stop, validator=_valid(checks.strings))
    tools: tuple[ToolItem, ...] = attrs.field(default=(), converter=_tools)
    """Tools offered to the model: built-in tools by name (``"read_file"``, ``"edit_file"``,
    ``"bash"``, ...), your functions made tools with ``@tool``, which the client runs, and
    ``ToolSpec`` values, whose calls are handed to you (``ResultMessage.pending_tool_calls``) and
    answered with ``Client.add_tool_result``."""
    allowed_tools: tuple[str, ...] = attrs.field(default=(), converter=_allowed_rules)
    """Rules for calls that run without asking: ``"bash"``, ``"bash(git status*)"``, ``"edit_file(docs/*)"``."""
    disallowed_tools: tuple[str, ...] = attrs.field(default=(), converter=_disallowed_rules)
    """Rules for calls that are always refused (in every mode, ``bypassPermissions`` included)."""
    permission_mode: PermissionMode = attrs.field(
        default="default", validator=_valid(checks.one_of(PERMISSION_MODES, "mode"))
    )
    """``default`` (ask before shell commands and file writes), ``acceptEdits`` (file edits run,
    shell commands are asked about), ``plan`` (read-only tools only), ``bypassPermissions``."""
    can_use_tool: CanUseTool | None = attrs.field(
        default=None, repr=False, eq=False, validator=_valid(_callable_or_none)
    )
    """Asked when the rules say *ask*: ``can_use_tool(name, input, context)`` returns
    ``PermissionResultAllow`` (perhaps with ``updated_input``) or ``PermissionResultDeny``.
    Without it, such calls are denied with a message saying how to allow them."""
    hooks: Mapping[HookEvent, tuple[HookMatcher, ...]] = attrs.field(factory=dict, converter=_hooks, eq=False)
    """``{"PreToolUse": [HookMatcher(matcher="bash", hooks=[f])], ...}``; see ``HookMatcher``."""
    cwd: str | None = attrs.field(default=None, converter=_optional_path)
    """The working directory of the file tools and ``bash`` (None: the process's)."""
    allowed_dirs: tuple[str, ...] = attrs.field(default=(), converter=_allowed_dirs)
    """Directories besides ``cwd`` that the file tools may use."""
    sandbox: SandboxMode = attrs.field(default="auto", validator=_valid(checks.one_of(SANDBOX_MODES, "sandbox")))
    """``bash`` runs in bubblewrap's sandbox (writable: ``cwd``, ``allowed_dirs`` and a private
    ``/tmp``; no network; no process outlives the call): ``auto`` where ``bwrap`` works, with a
    warning, once, where it does not; ``required`` refuses to run commands without it; ``off``."""
    sandbox_network: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    """Whether commands in the sandbox have the network."""
    tool_timeout: float | None = attrs.field(default=300.0, validator=_valid(checks.positive_number_or_none))
    """Seconds a tool may run when it sets no timeout of its own; None: no limit."""
    stream_idle_timeout: float | None = attrs.field(default=600.0, validator=_valid(checks.positive_number_or_none))
    """Seconds a response may go without progress before it fails with ``ResponseTimeoutError``:
    the head not sent, or no event (keep-alive comments and a trickle of bytes that completes no
    event are not progress). Long, because a local model can think for minutes before its first
    token; None: no limit."""
    request_timeout: float | None = attrs.field(default=None, validator=_valid(checks.positive_number_or_none))
    """Seconds one request attempt may take in all, from sending it to the end of the answer
    (``ResponseTimeoutError``); None (the default): no limit."""
    max_response_bytes: int | None = attrs.field(
        default=128 * 1024 * 1024, validator=_valid(checks.positive_int_or_none)
    )
    """Bytes one response body may bring, counted after gzip or deflate is undone (so a
    compression bomb stops here): ``ResponseTooLargeError`` beyond. None: no limit."""
    max_text_chars: int | None = attrs.field(default=16_000_000, validator=_valid(checks.positive_int_or_none))
    """Characters of text, reasoning and refusal one answer may hold; None: no limit."""
    max_tool_argument_chars: int | None = attrs.field(default=16_000_000, validator=_valid(checks.positive_int_or_none))
    """Characters of tool-call arguments one answer may hold, all calls together; None: no limit."""
    max_tool_calls: int | None = attrs.field(default=1024, validator=_valid(checks.positive_int_or_none))
    """Tool calls one answer may hold; None: no limit."""
    tool_mode: ToolMode = knob("tool_mode", error=ConfigurationError)
    """``native``, ``emulated`` (tools described in the prompt, calls read from the text: for
    endpoints without tool support) or ``auto`` (native, and calls written as text, as small local
    models often do, are read too)."""
    think_tags: bool = knob("think_tags", error=ConfigurationError)
    """Read reasoning the model wrote in its text as ``<think>...</think>`` (servers that do not
    separate it: llama.cpp with ``--reasoning-format none``, LM Studio without reasoning
    separation): a ``<think>`` at the very start of the answer, after optional whitespace, opens
    a block that runs to the first ``</think>`` (or the end of the answer). The block becomes a
    ``ThinkingBlock`` before the text and streams as ``ReasoningDelta`` partials; it is never
    text, tool calls written in it are never run, and it is not sent back as content. A
    ``<think>`` later in the answer, or a lone ``</think>``, stays text. False: all of it stays
    text."""
    doom_loop_threshold: int | None = knob("doom_loop_threshold", error=ConfigurationError)
    """The same call (tool and arguments) this many times in a row is a doom loop."""
    doom_loop_action: DoomLoopAction = knob("doom_loop_action", error=ConfigurationError)
    """``warn``: the repeated call is not run and the model is told (twice the threshold stops the
    run); ``stop``: the run stops with ``error_doom_loop``. Repeats are counted one call after
    another and answer after answer (the same set of calls each time), and answers that call only
    tools that do not exist count too, so with the defaults every run ends."""
    max_total_tokens: int | None = knob("max_total_tokens", error=ConfigurationError)
    """Stop the run (``error_max_budget_tokens``) once its answers have used this many tokens."""
    max_budget_usd: float | None = knob("max_budget_usd", error=ConfigurationError)
    """Stop the run (``error_max_budget_usd``) once it has cost this much (needs ``pricing``)."""
    pricing: Pricing | None = knob("pricing", error=ConfigurationError)
    """The model's prices, for ``ResultMessage.total_cost_usd`` and ``max_budget_usd``."""
    output_schema: JSONObject | None = knob("output_schema", error=ConfigurationError)
    """A JSON schema for the final answer: it is validated, asked for again once if it does not
    match, and parsed into ``ResultMessage.structured_output``."""
    output_mode: OutputMode = knob("output_mode", error=ConfigurationError)
    """How the schema is sent: ``json_schema`` (``response_format``), ``json_object`` (with a
    ``schema``: llama.cpp) or ``prompt`` (in the system prompt only)."""
    structured_output_retries: int = knob("structured_output_retries", error=ConfigurationError)
    """How many times the model is asked again after an answer that does not match the schema."""
    context_window: int | None = knob("context_window", error=ConfigurationError)
    """The model's context in tokens. None: asked of the server (``discover_context``) once a
    conversation grows long enough to matter; requests that would not fit are compacted
    (``context_strategy``)."""
    context_strategy: ContextStrategy = knob("context_strategy", error=ConfigurationError)
    """How a request that would not fit is made to fit: ``sliding`` (leave out the oldest
    turns), ``truncate`` (shorten the largest, oldest tool results), ``summarize`` (the model
    summarises what would be left out), ``adaptive`` (truncate, then summarise, then slide), or
    your function of an ``anyagent_core.context.ContextView``."""
    token_counter: TokenCounter | None = knob("token_counter", error=ConfigurationError)
    """Counts tokens for compaction and ``Client.get_context_usage()``: None, an estimate
    calibrated on the usage the server reports; ``TokenizersCounter`` (a ``tokenizer.json``) or
    ``TiktokenCounter`` for exact counts."""
    discover_context: bool = attrs.field(default=True, validator=_valid(checks.boolean))
    """Ask the server for its window when ``context_window`` is None (llama.cpp, vLLM, SGLang,
    Ollama, LM Studio, OpenRouter), once per endpoint and model."""
    agents: Mapping[str, AgentDefinition] = attrs.field(factory=dict, converter=_agents, eq=False)
    """Subagents; when there are any, the model gets a ``task`` tool to hand work to them."""
    mcp_servers: Mapping[str, Mapping[str, Any]] = attrs.field(
        factory=dict, converter=_mcp_servers, repr=False, eq=False
    )
    """MCP servers whose tools the model is offered as ``mcp__<name>__<tool>`` (the ``mcp``
    extra): ``{"type": "stdio", "command": ..., "args": [...], "env": {...}}``, ``{"type":
    "http", "url": ..., "headers": {...}}``, ``{"type": "sse", ...}``, or an in-process
    ``ToolServer``; ``"optional": True`` for one the run may go on without. Started when the
    client opens, stopped when it closes (see docs/mcp.md). Kept out of the repr (headers and
    environments hold credentials)."""
    mcp_strict: bool = attrs.field(default=True, validator=_valid(checks.boolean))
    """A server that fails to start is an ``McpServerError``; False: a warning, and the run
    goes on without that server's tools."""
    skills: bool = attrs.field(default=False, validator=_valid(checks.boolean))
    """Offer the skills of the project (``<cwd>/.anyagent/skills/``) and of the user
    (``~/.anyagent/skills/``, ...) through a ``skill`` tool: the model sees their names and
    descriptions and loads one's instructions when it needs them (see ``discover_skills``)."""
    skill_dirs: tuple[str, ...] = attrs.field(default=(), converter=_skill_dirs)
    """More skills (folders of skill folders, or one skill's folder), relative to ``cwd``;
    offered whether ``skills`` is on or not."""
    tool_choice: ToolChoice = attrs.field(default=None, validator=_valid(checks.str_or_none))
    """``auto``, ``none``, ``required`` or the name of one of the tools (None: the server's default)."""
    reset_tool_choice: bool = knob("reset_tool_choice", error=ConfigurationError)
    """After the model called tools, send ``auto`` instead of a forcing ``tool_choice``
    (``required`` or a tool's name) until the next ``query()``: otherwise a forced choice makes
    the model call a tool on every turn and never answer."""
    parallel_tool_calls: bool | None = attrs.field(default=None, validator=_valid(checks.boolean_or_none))
    output_format: JSONObject | None = attrs.field(default=None, converter=_output_format)
    """The request's ``response_format``, e.g. ``{"type": "json_schema", "json_schema": {...}}``."""
    include_partial_messages: bool = attrs.field(default=False, validator=_valid(checks.boolean))
    """Also yield ``StreamEvent`` pieces (text, reasoning, tool-call deltas) as they arrive."""
    stream: bool = attrs.field(default=True, validator=_valid(checks.boolean))
    """False: ask for whole answers (``stream: false``); the messages are the same."""
    include_usage: bool = attrs.field(default=True, validator=_valid(checks.boolean))
    """Ask for usage in the stream (``stream_options.include_usage``)."""
    retry: RetryPolicy = knob("retry", error=ConfigurationError)
    """How failed requests are retried (``RetryPolicy``: attempts, back-off, statuses)."""
    fallback_models: tuple[str, ...] = attrs.field(
        default=(), converter=str_tuple, validator=knob_validator("fallback_models", error=ConfigurationError)
    )
    """Models tried in order when the model fails for good (retries spent, not found, context)."""
    fallback_endpoints: tuple[FallbackEndpoint, ...] = attrs.field(default=(), converter=_fallback_endpoints)
    """Other servers tried in order, each with its model and key (``FallbackEndpoint``, or a dict
    of ``base_url``, ``model``, ``api_key``), after the fallback models, by the same rules: when
    the main endpoint keeps failing after its retries, or at once when it cannot be reached.
    Each endpoint's window and what it accepts come from its own answers; the ``ResultMessage``
    (``endpoint``) and a ``fallback_endpoint`` ``SystemMessage`` say which one answered."""
    extra_body: JSONObject = attrs.field(factory=dict, converter=_extra_body, repr=_extra_body_repr)
    """Merged into every request body last: vendor knobs such as ``top_k`` or ``chat_template_kwargs``
    (in a repr, the keys only: a gateway's key may travel in the body)."""
    extra_headers: tuple[tuple[str, str], ...] = attrs.field(
        default=(), converter=_header_pairs, validator=_valid(checks.header_pairs), repr=_headers_repr
    )
    """Sent with every request (gateway keys, routing headers); never recorded or logged."""
    config: Config = attrs.field(default=CLIENT_CONFIG, validator=_valid(checks.instance(Config)))
    """The protocol machine's limits and wire choices (``anyagent_core.Config``); the default
    is the core's, with an ``anyagent/<version>`` User-Agent."""
    http_client: httpx.AsyncClient | None = attrs.field(
        default=None, repr=False, eq=False, validator=_valid(_http_client_or_none)
    )
    """Your ``httpx.AsyncClient`` (its lifetime stays yours), with your timeouts, proxies,
    certificates or a custom ``transport=``. None (and no ``transport``): the event loop's
    default pool, shared by the clients on that loop and closed when the loop shuts down."""
    observers: tuple[Observer, ...] = attrs.field(default=(), converter=_observers, repr=False, eq=False)
    """Told what each run does as it happens (``Observer``: tracing, progress displays)."""
    transport: AsyncTransport | None = attrs.field(
        default=None, repr=False, eq=False, validator=_valid(_transport_or_none)
    )
    """Another transport (``H11Transport()``, your own): its lifetime stays yours. Excludes
    ``http_client``."""
    session_store: SessionStore | None = attrs.field(default=None, repr=False, eq=False)
    """Where the conversation is kept (``SQLiteStore``, ``PostgresStore``, ``MemoryStore``,
    yours), one transaction per committed turn; None: it lives in the client only. The store's
    lifetime stays yours."""
    resume: str | None = attrs.field(default=None, validator=_valid(checks.nonempty_str_or_none))
    """Continue the stored session of this id (``session_store`` needed)."""
    continue_conversation: bool = attrs.field(default=False, validator=_valid(checks.boolean))
    """Continue the most recently updated stored session of the working directory (a new one
    if there is none)."""
    fork_session: bool = attrs.field(default=False, validator=_valid(checks.boolean))
    """With ``resume`` or ``continue_conversation``: go on in a new session that shares the old
    one's history, leaving the old one as it was."""
    session_id: str | None = attrs.field(default=None, validator=_valid(checks.nonempty_str_or_none))
    """The id of the new session (a new one, or the fork); None: a random UUID."""
    memory: Memory | None = attrs.field(default=None, repr=False, eq=False)
    """Long-term memory across sessions (``Memory`` over a session store, semantic with an
    ``Embedder``): the model gets ``remember`` and ``recall`` tools (unless ``memory_tools`` is
    False), and ``inject_memories`` puts the most relevant memories in the system prompt."""
    memory_tools: bool = attrs.field(default=True, validator=_valid(checks.boolean))
    """With ``memory``: offer the ``remember`` and ``recall`` tools."""
    inject_memories: int = attrs.field(default=0, validator=_valid(checks.non_negative_int))
    """With ``memory``: before each prompt, recall this many memories relevant to it and put
    them in the system prompt (0: none)."""

    def __attrs_post_init__(self) -> None:
        if self.http_client is not None and self.transport is not None:
            raise ConfigurationError("pass http_client= or transport=, not both")
        _check_session_options(self)
        _check_memory_options(self)
        if self.max_budget_usd is not None and self.pricing is None:
            raise ConfigurationError(NO_PRICING)
        names = self.tool_names()
        for field in ("allowed_tools", "disallowed_tools"):
            for rule in getattr(self, field):
                tool_name = PermissionRule.parse(rule).tool
                if tool_name in PATH_RULE_TOOLS:
                    continue  # Read(...), Edit(...): every file tool
                if tool_name not in names and not any(tool_name in _agent_tools(a) for a in self.agents.values()):
                    if self._remote_mcp_tool(tool_name):
                        continue  # a remote server's tools are known once it is reached
                    known = ", ".join(sorted(names)) or "none: offer tools with tools=[...]"
                    near = [name for name in sorted(names) if name.lower() == tool_name.lower()]
                    hint = f" (did you mean {near[0]!r}? names are matched exactly)" if near else ""
                    raise ConfigurationError(
                        f"{field} rule {rule!r} names no tool: {tool_name!r} is not among the tools ({known}){hint}; "
                        "a rule for a tool that does not exist would never apply"
                    )
        choice = self.tool_choice
        if choice not in (None, "auto", "none", "required") and choice not in names:
            known = ", ".join(names) or "none"
            raise ConfigurationError(
                f"tool_choice names {choice!r}, which is not among the tools ({known}); "
                "or use 'auto', 'none' or 'required'"
            )

    def _remote_mcp_tool(self, name: str) -> bool:
        parts = name.split("__")
        if len(parts) != 3 or parts[0] != "mcp" or not parts[2]:
            return False
        config = self.mcp_servers.get(parts[1])
        return config is not None and config["type"] != "sdk"

    def tool_names(self) -> tuple[str, ...]:
        """The names of the tools the model is offered (``task`` too, with agents; an in-process
        server's tools, not yet a remote MCP server's)."""
        names = tuple(item if isinstance(item, str) else item.name for item in self.tools)
        if self.memory is not None and self.memory_tools:
            names = (*names, "remember", "recall")
        for key, config in self.mcp_servers.items():
            if config["type"] == "sdk":
                names += tuple(item.name for item in config["instance"].tools_for(key))
        return (*names, "task") if self.agents else names

    def endpoint(self, env: Mapping[str, str] | None = None) -> Endpoint:
        """Where requests go, resolving the base URL and API key from the environment.

        The endpoint made last is kept and handed out again while the environment's values it
        was made from are the same (the variables are read on every call)."""
        environ = _environ(env)
        key = (
            None if self.base_url else environ.get(ENV_BASE_URL),
            None if self.api_key else environ.get(ENV_API_KEY),
        )
        derived = _derived(self)
        kept = derived.endpoint
        if kept is not None and kept[0] == key:
            return kept[1]
        endpoint = Endpoint(
            base_url=get_base_url(self.base_url, provider=self.provider, env=environ),
            api_key=get_api_key(self.api_key, env=environ),
            headers=self.extra_headers,
        )
        derived.endpoint = (key, endpoint)
        return endpoint

    def fallback_endpoint_list(self) -> tuple[Endpoint, ...]:
        """The fallback endpoints as the transport sees them (the extra headers go to each);
        made once for these options."""
        derived = _derived(self)
        fallbacks = derived.fallbacks
        if fallbacks is None:
            fallbacks = derived.fallbacks = tuple(
                Endpoint(base_url=item.base_url, api_key=item.api_key, headers=self.extra_headers)
                for item in self.fallback_endpoints
            )
        return fallbacks

    def stream_limits(self) -> StreamLimits:
        """What one request attempt may take from the server: these options' limits (made once
        for these options)."""
        derived = _derived(self)
        limits = derived.limits
        if limits is None:
            limits = derived.limits = StreamLimits(
                stream_idle_timeout=self.stream_idle_timeout,
                request_timeout=self.request_timeout,
                max_response_bytes=self.max_response_bytes,
                max_text_chars=self.max_text_chars,
                max_tool_argument_chars=self.max_tool_argument_chars,
                max_tool_calls=self.max_tool_calls,
            )
        return limits

    def resolved_model(self, env: Mapping[str, str] | None = None) -> str:
        return get_model(self.model, env=env)

    def resolved_tools(self) -> tuple[Tool | ToolSpec, ...]:
        """The tools with built-in names replaced by the built-in ``Tool`` values."""
        resolved: list[Tool | ToolSpec] = []
        for item in self.tools:
            if isinstance(item, str):
                from ._tools import BUILTIN_TOOLS  # loaded only for options that name one

                resolved.append(BUILTIN_TOOLS[item])
            else:
                resolved.append(item)
        return tuple(resolved)

    def tool_specs(self) -> tuple[ToolSpec, ...]:
        """What the model is told about the tools (the ``task`` tool for subagents aside)."""
        return tuple(item if isinstance(item, ToolSpec) else item.spec for item in self.resolved_tools())

    def loop_settings(self, model: str, tools: Sequence[LoopTool], *, session_id: str | None = None) -> LoopSettings:
        """The core ``AgentLoop``'s settings for these options, with ``tools`` as the loop sees
        them: the knobs both share (``anyagent_core``'s ``KNOBS``) pass through unchanged.

        The settings are frozen and checked when made; the last ones made from these options are
        kept and handed out again while what they were made from is the same (client after
        client of a one-shot ``query()``)."""
        # Deny rules and protected paths also match absolute paths under the working directory
        # (symlinks resolved, as the file tools see it).
        cwd = _real_cwd(self.cwd)
        # Every other input is a frozen field of these options; ``hooks`` is a dict, so what is
        # read of it is part of the key.
        key = (model, tuple(tools), session_id, cwd, "PreCompact" in self.hooks)
        derived = _derived(self)
        kept = derived.settings
        if kept is not None and kept[0] == key and _same_tools(kept[0][1], key[1]):
            return kept[1]
        settings = LoopSettings(
            template=self.start_turn(model, ()),
            tools=key[1],
            permissions=PermissionPolicy(
                mode=self.permission_mode,
                allowed_tools=self.allowed_tools,
                disallowed_tools=self.disallowed_tools,
                cwd=cwd,
            ),
            session_id=session_id,
            ask_before_compacting=key[4],
            fallback_endpoint_models=tuple(item.model for item in self.fallback_endpoints),
            **{name: getattr(self, name) for name in KNOBS},
        )
        derived.settings = (key, settings)
        return settings

    def start_turn(self, model: str, messages: Sequence[Any]) -> StartTurn:
        """The core request for ``messages`` with these options."""
        return StartTurn(
            model=model,
            messages=messages,
            system_prompt=self.system_prompt,
            tools=self.tool_specs(),
            tool_choice=self.tool_choice,
            parallel_tool_calls=self.parallel_tool_calls,
            stream=self.stream,
            include_usage=self.include_usage,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
            seed=self.seed,
            stop=self.stop,
            response_format=self.output_format,
            extra_body=self.extra_body,
        )


def _hint_names() -> dict[str, Any]:
    """The names ``AgentOptions``' annotations use that this module imports only for type
    checkers: loaded when the annotations are first read (``typing.get_type_hints``)."""
    from collections.abc import Callable, Sequence

    import httpx

    from anyagent_core import LoopTool, Message, Pricing
    from anyagent_core.context import Compaction, ContextView

    from ._definitions import AgentDefinition, FallbackEndpoint
    from ._hooks import HookEvent, HookMatcher
    from ._logging import Scrubber
    from ._memories import Memory
    from ._permissions import CanUseTool
    from ._sessions import SessionStore
    from ._tools import Tool
    from ._transports import AsyncTransport

    return {
        "httpx": httpx,
        "LoopTool": LoopTool,
        "Pricing": Pricing,
        # ContextStrategy's own names (a string alias, so the compaction classes load on use).
        "Callable": Callable,
        "Sequence": Sequence,
        "ContextView": ContextView,
        "Compaction": Compaction,
        "Message": Message,
        "AgentDefinition": AgentDefinition,
        "FallbackEndpoint": FallbackEndpoint,
        "HookEvent": HookEvent,
        "HookMatcher": HookMatcher,
        "Scrubber": Scrubber,
        "Memory": Memory,
        "CanUseTool": CanUseTool,
        "SessionStore": SessionStore,
        "Tool": Tool,
        "AsyncTransport": AsyncTransport,
    }


load_on_read(AgentOptions, _hint_names)
