"""The copy editor: an agent reads the chapter files with read-only tools and returns the issues
it found as structured data, validated against a JSON schema (the loop asks again if an answer
does not match).

    python examples/copy_editor.py                      # replays recordings/copy_editor.jsonl
    python examples/copy_editor.py --base-url http://localhost:1234/v1 --model qwen2.5-7b-instruct
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import anyio
from _common import WORKSPACE, http_client, parser, target

from anyagent_httpx import AgentOptions, APIError, ResultMessage, SystemMessage, UserMessage, query

ISSUES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "issues": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "file": {"type": "string"},
                    "line": {"type": "integer", "minimum": 1},
                    "kind": {"enum": ["spelling", "grammar", "style", "consistency"]},
                    "excerpt": {"type": "string"},
                    "suggestion": {"type": "string"},
                },
                "required": ["file", "line", "kind", "excerpt", "suggestion"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["issues"],
    "additionalProperties": False,
}

SYSTEM = (
    "You are a careful copy editor. Read every chapter under chapters/ and the notes in notes.md, "
    "then report spelling, grammar, style and consistency issues with file, line and a suggestion."
)
PROMPT = "Copy-edit the manuscript."


async def main() -> int:
    args = parser(__doc__).parse_args()
    where = target(args, "copy_editor.jsonl")
    async with http_client(where) as http:
        options = AgentOptions(
            model=where.model,
            base_url=where.base_url,
            http_client=http,
            system_prompt=SYSTEM,
            tools=["glob", "read_file"],
            cwd=WORKSPACE,
            permission_mode="plan",  # read-only: an editor reports, it does not change the files
            output_schema=ISSUES_SCHEMA,
            max_turns=8,
        )
        result: ResultMessage | None = None
        try:
            async with aclosing(query(prompt=PROMPT, options=options)) as messages:
                async for message in messages:
                    if isinstance(message, UserMessage) and isinstance(message.content, str):
                        print(f"(asked again: {message.content[:90]}...)")
                    elif isinstance(message, SystemMessage) and message.subtype != "init":
                        print(f"({message.subtype})")
                    elif isinstance(message, ResultMessage):
                        result = message
        except APIError as error:  # the server failed for good: say why, with the retry notes
            print(f"no validated issues: {type(error).__name__}: {error}")
            for note in getattr(error, "__notes__", ()):
                print(f"  {note}")
            return 1
    if result is None or result.subtype != "success":
        print(f"no validated issues: {result.errors if result else 'no result'}")
        return 1
    issues = result.structured_output["issues"]
    print(f"{len(issues)} issue(s), validated against the schema:")
    for issue in issues:
        print(f"  {issue['file']}:{issue['line']:<3} {issue['kind']:<12} {issue['excerpt']!r} -> {issue['suggestion']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(anyio.run(main))
