"""An MCP server written with the mcp package's own server API (``MCPServer``), for the tests:
``python server.py [stdio]``, ``python server.py http PORT`` (streamable HTTP on 127.0.0.1) or
``python server.py sse PORT``."""

from __future__ import annotations

import base64
import os
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.utilities.types import Image
from mcp_types import ToolAnnotations

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

server = MCPServer("testing")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


@server.tool()
def picture() -> Image:
    """A one-pixel PNG."""
    return Image(data=PNG, format="png")


@server.tool()
def fail(reason: str) -> str:
    """Always fails, with the reason given."""
    raise ValueError(reason)


@server.tool(annotations=ToolAnnotations(read_only_hint=False, idempotent_hint=True))
def environment(name: str) -> str:
    """The value of an environment variable of the server's process."""
    return os.environ.get(name, "<unset>")


@server.tool()
def pid() -> str:
    """The server's process id."""
    return str(os.getpid())


@server.tool()
def quit() -> str:
    """Ends the server's process at once (a crash, as the client sees it)."""
    os._exit(3)


@server.tool()
async def grow(ctx: Context) -> str:
    """Adds a tool named ``extra`` and says the tool list changed."""

    def extra() -> str:
        """A tool added while the server runs."""
        return "extra ran"

    server.add_tool(extra)
    await ctx.session.send_tool_list_changed()
    return "grown"


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] == "stdio":
        server.run("stdio")
    elif sys.argv[1] == "sse":
        server.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
