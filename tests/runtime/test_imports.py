"""``import anyagent_httpx`` is lazy: the package loads its names on first use, and what a plain
``query()`` needs never drags in the CLI, recording, the blocking facade, the built-in tools or
the h11 transport. Each check runs in a fresh interpreter, where nothing is imported yet."""

from __future__ import annotations

import importlib
import json
import pickle
import subprocess
import sys

import pytest

import anyagent_httpx
from anyagent_httpx import AgentOptions, ConfigurationError

#: Modules a plain ``query()`` does not need at import: the CLI, recording, the session stores,
#: the blocking facade, the built-in tools, the h11 transport, the hooks (loaded with the first
#: client, or by options naming hooks), tools' signature schemas (with the first tool), the core's
#: text toolkits (tools written as text, ``<think>`` tags), whole-response replay, the subagents,
#: the shell-command reader of the permission rules, the servers' window discovery, ``Tool`` and
#: ``ToolContext`` (with the first tool made or run), the context's usage and summary classes,
#: ``AgentDefinition`` and ``FallbackEndpoint`` (with the first options naming subagents or
#: fallbacks), the permission rules' answers (a call to decide on), the retry decisions (a failed
#: request), the loop's tools and their traits (options with tools), the context strategies'
#: view and answer (a request that outgrows the window) and ``Pricing`` (options naming prices).
NOT_FOR_QUERY = (
    "anyagent_httpx._cli",
    "anyagent_httpx._hooks",
    "anyagent_httpx._recording",
    "anyagent_httpx._context",
    "anyagent_httpx._definitions",
    "anyagent_httpx._sessions",
    "anyagent_httpx._subagents",
    "anyagent_httpx._sync",
    "anyagent_httpx._tools._builtin",
    "anyagent_httpx._tools._context",
    "anyagent_httpx._tools._schema",
    "anyagent_httpx._tools._tool",
    "anyagent_httpx._transports._h11",
    "anyagent_httpx.claude",
    "anyagent_httpx.testing",
    "anyagent_core._agent._answers",
    "anyagent_core._agent._decisions",
    "anyagent_core._agent._pricing",
    "anyagent_core._agent._shell",
    "anyagent_core._agent._traits",
    "anyagent_core._context._plans",
    "anyagent_core._context._usage",
    "anyagent_core._context._window",
    "anyagent_core._replay",
    "anyagent_core._schema",
    "anyagent_core._sessions",
    "anyagent_core._textual._emulation._scanner",
    "anyagent_core._textual._think",
)


def modules_after(code: str) -> set[str]:
    """The ``anyagent*`` modules loaded in a fresh interpreter after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in sys.modules if m.startswith('anyagent'))))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_package_loads_nothing_else() -> None:
    assert modules_after("import anyagent_httpx") == {"anyagent_httpx"}


def test_a_plain_query_loads_no_cli_recording_sync_builtin_tools_or_h11() -> None:
    loaded = modules_after(
        "from anyagent_httpx import AgentOptions, Client, ResultMessage, query\n"
        "AgentOptions(model='m', base_url='http://127.0.0.1:1/v1')"
    )
    assert "anyagent_httpx._client" in loaded and "anyagent_core._agent._loop" in loaded
    assert loaded.isdisjoint(NOT_FOR_QUERY), sorted(loaded & set(NOT_FOR_QUERY))


_PLAIN_RUN = """\
import json
import anyio
from anyagent_httpx import AgentOptions, ResultMessage, query
from anyagent_httpx.testing import Reply, serve

CHUNK = {"id": "c1", "object": "chat.completion.chunk", "model": "m",
         "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}

async def main() -> None:
    async with serve([Reply.sse(b"data: " + json.dumps(CHUNK).encode() + b"\\n\\ndata: [DONE]\\n\\n")]) as server:
        options = AgentOptions(model="m", base_url=server.base_url)
        results = [m async for m in query(prompt="hello", options=options) if isinstance(m, ResultMessage)]
        assert [m.result for m in results] == ["hi"], results

anyio.run(main)
"""


def test_the_readme_import_compiles_only_the_regular_expression_every_response_uses() -> None:
    """The patterns of rare paths (``Retry-After`` dates, permission rules, tool names, CR line
    ends, the log scrubber's credential shapes) are compiled with their first use: a module-level
    ``re.compile`` costs more than importing most modules."""
    script = (
        "import json, re, sys\n"
        "from anyagent_httpx import AgentOptions, Client, query\n"
        "print(json.dumps(sorted(f'{name}.{key}' for name, module in list(sys.modules.items())"
        " if name.startswith('anyagent') for key, value in vars(module).items() if isinstance(value, re.Pattern))))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["anyagent_core._framing._NOT_BLANK"]


def test_a_plain_query_run_makes_and_runs_no_tool() -> None:
    """A whole run without tools (over the loopback server) never loads ``Tool``, ``ToolContext``,
    the tool runner, the permission rules' answers or the retry decisions."""
    loaded = modules_after(_PLAIN_RUN)
    assert "anyagent_core._agent._loop" in loaded and "anyagent_httpx._attempt" in loaded
    tool_modules = {
        "anyagent_httpx._tools._tool",
        "anyagent_httpx._tools._context",
        "anyagent_httpx._tools._run",
        "anyagent_core._agent._answers",
        "anyagent_core._agent._decisions",
        "anyagent_core._agent._traits",
    }
    assert loaded.isdisjoint(tool_modules), sorted(loaded & tool_modules)


_HINTS = """\
import json, sys, typing
from anyagent_httpx import AgentOptions, Tool
before = sorted(m for m in sys.modules if m.startswith("anyagent"))
options, tool = typing.get_type_hints(AgentOptions), typing.get_type_hints(Tool)
hints = [str(options["tools"]), str(options["hooks"]), str(options["session_store"]), str(tool["_signature"])]
print(json.dumps([before, *hints]))
"""


def test_the_type_hints_of_the_options_and_of_tool_resolve_and_load_their_modules_only_then() -> None:
    done = subprocess.run([sys.executable, "-c", _HINTS], capture_output=True, text=True, check=True, timeout=120)
    before, tools, hooks, store, signature = json.loads(done.stdout.strip().splitlines()[-1])
    lazy = {"anyagent_httpx._hooks", "anyagent_httpx._sessions", "anyagent_httpx._tools._schema"}
    assert lazy.isdisjoint(before), sorted(lazy & set(before))  # importing the names loaded none of them
    assert "anyagent_httpx._tools._tool.Tool" in tools and "anyagent_httpx._hooks.HookMatcher" in hooks
    assert "SessionStore" in store and signature == "anyagent_httpx._tools._schema.Signature | None"


def test_a_tool_loads_its_schema_and_no_builtin_tools() -> None:
    loaded = modules_after(
        "from anyagent_httpx import AgentOptions, tool\n"
        "AgentOptions(model='m', base_url='http://127.0.0.1:1/v1', tools=[tool(lambda: 1, name='one')])"
    )
    assert "anyagent_httpx._tools._schema" in loaded
    assert "anyagent_httpx._tools._builtin" not in loaded and "anyagent_httpx._cli" not in loaded


def test_hooks_load_with_the_options_that_name_them() -> None:
    plain = modules_after("from anyagent_httpx import AgentOptions\nAgentOptions(hooks={})")
    assert "anyagent_httpx._hooks" not in plain
    loaded = modules_after(
        "from anyagent_httpx import AgentOptions, ConfigurationError\n"
        "try:\n    AgentOptions(hooks={'NoSuchEvent': []})\nexcept ConfigurationError:\n    pass\n"
        "else:\n    raise SystemExit('an unknown hook event was accepted')"
    )
    assert "anyagent_httpx._hooks" in loaded


def test_naming_a_builtin_tool_loads_the_builtin_tools() -> None:
    loaded = modules_after("from anyagent_httpx import AgentOptions\nAgentOptions(tools=['read_file'])")
    assert "anyagent_httpx._tools._builtin" in loaded


@pytest.mark.parametrize("name", anyagent_httpx.__all__)
def test_every_public_name_resolves_to_its_home_s_object(name: str) -> None:
    home = importlib.import_module(anyagent_httpx._HOMES[name], "anyagent_httpx")
    assert getattr(anyagent_httpx, name) is getattr(home, name)
    assert name in dir(anyagent_httpx)


def test_the_lazy_table_and_all_agree() -> None:
    assert sorted(anyagent_httpx._HOMES) == sorted(anyagent_httpx.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = anyagent_httpx.nothing_here
    with pytest.raises(ImportError):
        exec("from anyagent_httpx import nothing_here", {})


def test_a_plain_query_loads_no_optional_library() -> None:
    """numpy (the vectors extra), opentelemetry, mcp, rich and prompt_toolkit load when used."""
    script = (
        "from anyagent_httpx import AgentOptions, Client, query\n"
        "AgentOptions(model='m', base_url='http://127.0.0.1:1/v1')\n"
        "import json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    # httpx itself imports rich when rich is installed (for its own command line): not ours to avoid.
    baseline = "import httpx, json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", baseline], capture_output=True, text=True, check=True, timeout=120)
    loaded -= set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert loaded.isdisjoint({"numpy", "opentelemetry", "mcp", "rich", "prompt_toolkit"}), sorted(loaded)


def test_mcp_servers_load_the_mcp_package_only_when_a_client_opens() -> None:
    """Options naming MCP servers, and the module that reaches them, load neither mcp nor
    opentelemetry (which mcp brings); a plain query() does not load that module."""
    script = (
        "import sys\n"
        "from anyagent_httpx import AgentOptions\n"
        "AgentOptions(model='m', mcp_servers={'s': {'type': 'stdio', 'command': sys.executable}})\n"
        "import anyagent_httpx._mcp\n"
        "import json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert loaded.isdisjoint({"mcp", "mcp_types", "opentelemetry", "pydantic"}), sorted(loaded)
    plain = modules_after("from anyagent_httpx import AgentOptions, Client, query\nAgentOptions(model='m')")
    assert "anyagent_httpx._mcp" not in plain


def test_a_plain_query_loads_no_sqlite() -> None:
    """The session stores (and sqlite3) load when options name one."""
    script = "from anyagent_httpx import AgentOptions, Client, query\nimport sys\nprint('sqlite3' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_the_readme_import_s_attrs_classes_share_their_repr_eq_and_hash() -> None:
    """Each attrs class the README's import defines takes ``__repr__`` (and, compared by value,
    ``__eq__`` and ``__hash__``) from ``anyagent_core.value`` rather than having attrs compile its
    own, the cost of importing about a hundred such classes."""
    script = (
        "from anyagent_httpx import AgentOptions, query\n"
        "import json, sys, attrs\n"
        "from anyagent_core.value import Described, Value\n"
        "own = sorted(f'{name}.{cls.__qualname__}' for name, module in list(sys.modules.items())"
        " if name.startswith('anyagent') for cls in vars(module).values()"
        " if isinstance(cls, type) and cls.__module__ == name and attrs.has(cls)"
        " and not (issubclass(cls, Value | Described) and '__eq__' not in cls.__dict__"
        " and ('__repr__' not in cls.__dict__ or cls.__qualname__ == 'Request')))\n"
        "print(json.dumps(own))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_subagents_and_fallbacks_make_their_classes_which_keep_their_home() -> None:
    loaded = modules_after(
        "from anyagent_httpx import AgentOptions, ConfigurationError\n"
        "AgentOptions(agents={}, fallback_endpoints=[])\n"
        "try:\n    AgentOptions(fallback_endpoints=object())\nexcept TypeError:\n    pass"
    )
    assert "anyagent_httpx._definitions" not in loaded
    loaded = modules_after(
        "from anyagent_httpx import AgentOptions\n"
        "AgentOptions(fallback_endpoints=[{'base_url': 'http://127.0.0.1:1/v1', 'model': 'm'}])"
    )
    assert "anyagent_httpx._definitions" in loaded
    from anyagent_httpx import AgentDefinition, FallbackEndpoint, _options

    for cls in (AgentDefinition, FallbackEndpoint):
        assert cls.__module__ == "anyagent_httpx._options" and getattr(_options, cls.__name__) is cls
    endpoint = FallbackEndpoint(base_url="http://127.0.0.1:1/v1", model="m", api_key="k")
    assert pickle.loads(pickle.dumps(endpoint)) == endpoint
    definition = AgentDefinition(description="d", prompt="p", max_turns=2)
    assert pickle.loads(pickle.dumps(definition)) == definition
    with pytest.raises(ConfigurationError, match="sequence of FallbackEndpoint"):
        AgentOptions(fallback_endpoints=endpoint)  # type: ignore[arg-type]


def test_the_subagent_and_fallback_classes_type_hints_resolve_from_their_home() -> None:
    """``typing.get_type_hints`` reads the annotations in ``anyagent_httpx._options`` (their
    ``__module__``), where ``Tool`` is named only for type checkers."""
    import typing

    from anyagent_httpx import AgentDefinition, FallbackEndpoint, Tool, ToolSpec

    hints = typing.get_type_hints(AgentDefinition)
    assert hints["tools"] == tuple[str | Tool | ToolSpec, ...] | None
    assert hints["max_turns"] == int | None and hints["description"] is str
    assert typing.get_type_hints(FallbackEndpoint) == {"base_url": str, "model": str, "api_key": str | None}


_OPTIONS_WHILE_DEFINITIONS_LOAD = """\
import json, sys, threading
from anyagent_httpx import AgentOptions

inside = threading.Event()
release = threading.Event()


def tracer(frame, event, arg):
    if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "anyagent_httpx._definitions":
        def local(frame, event, arg):
            # Pause once the module's imports ran and before its classes exist.
            if event == "line" and "_HOME" in frame.f_globals and "FallbackEndpoint" not in frame.f_globals:
                inside.set()
                release.wait(60)
                return None
            return local
        return local
    return None


def first() -> None:
    sys.settrace(tracer)
    try:
        AgentOptions(fallback_endpoints=[{"base_url": "http://127.0.0.1:1/v1", "model": "m"}])
    finally:
        sys.settrace(None)


thread = threading.Thread(target=first)
thread.start()
assert inside.wait(60), "the module was never entered"
try:
    AgentOptions(model="m")
    AgentOptions(fallback_endpoints=[])
    outcome = "made"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"
finally:
    release.set()
    thread.join(60)
print(json.dumps(outcome))
"""


def test_options_made_while_another_thread_first_loads_the_fallback_class() -> None:
    """A thread making options while another thread's options are loading ``_definitions``
    (the module is in ``sys.modules``, its classes not made yet) is not refused: no
    ``FallbackEndpoint`` can exist yet, so none is what it is given."""
    done = subprocess.run(
        [sys.executable, "-c", _OPTIONS_WHILE_DEFINITIONS_LOAD], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == "made"
