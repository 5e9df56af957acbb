"""claude-agent-sdk's ``@tool(name, description, input_schema)`` over a dict-argument handler,
MCP-shaped results, and ``ToolServer`` (tools served in-process as ``mcp__<server>__<tool>``)."""

from __future__ import annotations

import pathlib
import threading
from typing import Any, TypedDict

import pytest

from anyagent_core import ImageBlock, TextBlock, thaw_json
from anyagent_httpx import ToolServer, run_tool, tool
from anyagent_httpx._tools import is_mcp_result
from tests.runtime.tools.support import context

pytestmark = pytest.mark.anyio


@tool("add", "Add two numbers", {"a": float, "b": float})
async def add(args: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": f"{args['a']} + {args['b']} = {args['a'] + args['b']}"}]}


@tool("divide", "Divide a by b", {"a": float, "b": float})
async def divide(args: dict[str, Any]) -> dict[str, Any]:
    if args["b"] == 0:
        return {"content": [{"type": "text", "text": "Error: division by zero"}], "is_error": True}
    return {"content": [{"type": "text", "text": str(args["a"] / args["b"])}]}


class Point(TypedDict):
    x: int
    y: int


def test_the_schema_comes_from_a_dict_of_types_a_typeddict_or_a_json_schema() -> None:
    assert add.name == "add" and add.spec.description == "Add two numbers"
    assert thaw_json(add.spec.parameters) == {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }

    @tool("norm", "Length of a point", Point)
    def norm(args: dict[str, Any]) -> float:
        return float((args["x"] ** 2 + args["y"] ** 2) ** 0.5)

    assert norm.spec.parameters["properties"]["x"] == {"type": "integer"}
    schema = {"type": "object", "properties": {"q": {"type": "string", "minLength": 2}}, "required": ["q"]}

    @tool("search", "Search", schema, {"readOnlyHint": True})
    async def search(args: dict[str, Any]) -> str:
        return str(args["q"])

    assert thaw_json(search.spec.parameters) == schema
    assert search.read_only


async def test_a_dict_handler_gets_the_validated_arguments_as_one_dict(tmp_path: pathlib.Path) -> None:
    result = await run_tool(add, "c1", {"a": 2, "b": 3.5}, context(tmp_path))
    assert (result.content, result.is_error) == ("2.0 + 3.5 = 5.5", False)  # an integer becomes a float
    bad = await run_tool(add, "c2", {"a": "two"}, context(tmp_path))
    assert bad.is_error and "Invalid arguments for add" in str(bad.content)


async def test_a_sync_dict_handler_runs_in_a_worker_thread(tmp_path: pathlib.Path) -> None:
    loop_thread = threading.get_ident()

    @tool("where", "Which thread", {})
    def where(args: dict[str, Any]) -> str:
        return "worker" if threading.get_ident() != loop_thread else "loop"

    result = await run_tool(where, "c1", {}, context(tmp_path))
    assert result.content == "worker"


async def test_mcp_shaped_results_are_read_as_content_and_error_flag(tmp_path: pathlib.Path) -> None:
    error = await run_tool(divide, "c1", {"a": 1, "b": 0}, context(tmp_path))
    assert (error.content, error.is_error) == ("Error: division by zero", True)

    @tool("mixed", "Text and an image", {})
    async def mixed(args: dict[str, Any]) -> dict[str, Any]:
        return {
            "content": [
                {"type": "text", "text": "a chart:"},
                {"type": "image", "data": "aGk=", "mimeType": "image/png"},
                {"type": "resource", "resource": {"uri": "file:///n.txt", "text": "notes"}},
                {"type": "resource_link", "name": "spec", "uri": "https://example.org/spec"},
            ],
            "isError": False,
        }

    result = await run_tool(mixed, "c2", {}, context(tmp_path))
    assert result.content == (
        TextBlock(text="a chart:"),
        ImageBlock(url="data:image/png;base64,aGk="),
        TextBlock(text="notes"),
        TextBlock(text="spec\nhttps://example.org/spec"),
    )

    @tool("audio", "Audio", {})
    async def audio(args: dict[str, Any]) -> dict[str, Any]:
        return {"content": [{"type": "audio", "data": "x", "mimeType": "audio/wav"}]}

    refused = await run_tool(audio, "c3", {}, context(tmp_path))
    assert refused.is_error
    assert "content[0] of type 'audio', which is not text" in str(refused.content)


def test_only_mcp_s_own_keys_make_a_result_mcp_shaped() -> None:
    assert is_mcp_result({"content": [{"type": "text", "text": "x"}], "is_error": True})
    assert not is_mcp_result({"content": [{"type": "text", "text": "x"}], "author": "me"})  # data, not a result
    assert not is_mcp_result({"content": "plain"})
    assert not is_mcp_result({"content": [1, 2]})


async def test_a_typed_tool_returning_an_ordinary_dict_is_json(tmp_path: pathlib.Path) -> None:
    @tool
    def lookup() -> dict[str, Any]:
        return {"content": "a page", "words": 2}

    result = await run_tool(lookup, "c1", {}, context(tmp_path))
    assert result.content == '{"content": "a page", "words": 2}'


def test_the_two_forms_are_not_mixed() -> None:
    with pytest.raises(TypeError, match="a name, a description and a schema"):
        tool("add", "Add")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="unsupported type"):
        tool("bad", "Bad", {"x": object})(lambda args: None)


async def test_a_tool_server_offers_its_tools_under_mcp_names(tmp_path: pathlib.Path) -> None:
    server = ToolServer(name="calculator", version="2.0.0", tools=[add, divide])
    assert [spec.name for spec in server.list_tools()] == ["add", "divide"]
    offered = server.tools_for("calc")
    assert [item.name for item in offered] == ["mcp__calc__add", "mcp__calc__divide"]
    result = await run_tool(offered[0], "c1", {"a": 1, "b": 2}, context(tmp_path))
    assert result.content == "1.0 + 2.0 = 3.0"
    direct = await server.call_tool("divide", {"a": 1, "b": 4}, context=context(tmp_path))
    assert direct.content == "0.25"
    missing = await server.call_tool("sqrt", {}, context=context(tmp_path))
    assert missing.is_error and "no tool 'sqrt' on calculator (add, divide)" in str(missing.content)
    with pytest.raises(ValueError, match="two tools of the server are named 'add'"):
        ToolServer(name="twice", tools=[add, add])
    with pytest.raises(ValueError, match="server's name"):
        ToolServer(name="my server")
    with pytest.raises(ValueError, match="longer than the 64 characters"):
        server.tools_for("k" * 60)
