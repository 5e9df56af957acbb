"""Skills: found in the project's, the given and the user's folders; only names and descriptions
reach the model until it loads one with the ``skill`` tool, which reads only inside the skill."""

from __future__ import annotations

import logging
import pathlib
from contextlib import aclosing
from typing import Any

import anyio
import pytest

from anyagent_httpx import (
    AgentOptions,
    Client,
    ConfigurationError,
    ResultMessage,
    ToolContext,
    ToolResultBlock,
    UserMessage,
    discover_skills,
    load_skill,
    run_tool,
    skill_tool,
    tool,
)
from anyagent_httpx._skills import MAX_SKILL_FILE_BYTES
from anyagent_httpx.testing import serve
from tests.runtime.test_agent_end_to_end import calls, says

pytestmark = pytest.mark.anyio

PDF_BODY = "To read a PDF, run scripts/extract.py on it, then summarise page by page."


def make_skill(root: pathlib.Path, name: str, description: str, body: str = "Do it well.") -> pathlib.Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {description}\n---\n\n{body}\n", "utf-8")
    return folder


@pytest.fixture
def places(tmp_path: pathlib.Path) -> dict[str, Any]:
    project = tmp_path / "project"
    user = tmp_path / "user"
    pdf = make_skill(project / ".anyagent" / "skills", "pdf", "Read and summarise PDF files.", PDF_BODY)
    (pdf / "scripts").mkdir()
    (pdf / "scripts" / "extract.py").write_text("print('text')\n", "utf-8")
    (pdf / "reference.md").write_text("Page numbers start at 1.\n", "utf-8")
    (tmp_path / "outside.txt").write_text("not the skill's\n", "utf-8")
    make_skill(user / "skills", "commit-messages", "Write commit messages in the team's style.")
    make_skill(user / "skills", "pdf", "The user's own PDF skill (shadowed by the project's).")
    return {"project": project, "env": {"ANY_AGENT_CONFIG_DIR": str(user)}, "root": tmp_path}


def test_discovery_order_and_shadowing(places: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="anyagent.files")
    skills = discover_skills(places["project"], env=places["env"])
    assert [(skill.name, skill.path.parent.parent.name) for skill in skills] == [
        ("pdf", ".anyagent"),
        ("commit-messages", "user"),
    ]
    assert skills[0].description == "Read and summarise PDF files."
    assert skills[0].instructions() == PDF_BODY
    assert "left out" in caplog.text and "'pdf'" in caplog.text
    assert discover_skills(places["project"], user=False, env=places["env"])[0].name == "pdf"
    assert discover_skills(places["project"], project=False, user=False, env=places["env"]) == ()


def test_an_extra_folder_may_be_one_skill_or_many(places: dict[str, Any], tmp_path: pathlib.Path) -> None:
    single = make_skill(tmp_path / "extra", "one", "Just one.")
    assert [s.name for s in discover_skills(places["project"], project=False, user=False, extra=[single])] == ["one"]
    many = [s.name for s in discover_skills(places["project"], project=False, user=False, extra=[tmp_path / "extra"])]
    assert many == ["one"]
    with pytest.raises(ConfigurationError, match="skill folder 'nowhere' is not a directory"):
        discover_skills(places["project"], extra=["nowhere"], env=places["env"])


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("name: Bad Name\ndescription: x", "'name' must be lower-case letters"),
        ("name: ok", "'description' is missing"),
        ("name: ok\ndescription: " + "x" * 1100, "at most 1024"),
        ("name: [ok\ndescription: x", "line 2"),
    ],
)
def test_a_malformed_skill_is_refused_naming_its_file(tmp_path: pathlib.Path, front: str, message: str) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "SKILL.md").write_text(f"---\n{front}\n---\nbody\n", "utf-8")
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_skill(folder)
    assert "SKILL.md" in str(caught.value)
    with pytest.raises(ConfigurationError, match=r"holds no SKILL\.md"):
        load_skill(tmp_path)


async def test_the_skill_tool_loads_instructions_and_files_only_inside_the_skill(places: dict[str, Any]) -> None:
    loader = skill_tool(discover_skills(places["project"], env=places["env"]))
    assert loader.read_only and loader.spec.name == "skill"
    assert loader.spec.parameters["properties"]["name"]["enum"] == ("commit-messages", "pdf")
    assert "- pdf: Read and summarise PDF files." in loader.spec.description
    assert PDF_BODY not in loader.spec.description  # progressive disclosure

    async def call(**arguments: Any) -> ToolResultBlock:
        context = ToolContext(cwd=places["project"], roots=(places["project"],), session_id="s")
        return await run_tool(loader, "c1", arguments, context)

    loaded = await call(name="pdf")
    assert not loaded.is_error and PDF_BODY in str(loaded.content)
    assert "reference.md" in str(loaded.content) and "scripts/extract.py" in str(loaded.content)
    assert "SKILL.md" not in str(loaded.content)
    assert (await call(name="pdf", file="reference.md")).content == "Page numbers start at 1.\n"
    escaped = await call(name="pdf", file="../../../outside.txt")
    assert escaped.is_error and "outside the pdf skill's folder" in str(escaped.content)
    missing = await call(name="pdf", file="nope.md")
    assert missing.is_error and "its files: reference.md, scripts/extract.py" in str(missing.content)
    unknown = await call(name="nope")
    assert unknown.is_error


async def test_a_large_or_binary_skill_file_is_cut_or_refused(tmp_path: pathlib.Path) -> None:
    folder = make_skill(tmp_path, "big", "Big files.")
    (folder / "big.txt").write_text("x" * (MAX_SKILL_FILE_BYTES + 10), "utf-8")
    (folder / "blob.bin").write_bytes(b"\xff\xfe\x00")
    loader = skill_tool([load_skill(folder)])
    context = ToolContext(cwd=tmp_path, roots=(tmp_path,), session_id="s")
    big = await run_tool(loader, "c1", {"name": "big", "file": "big.txt"}, context)
    assert str(big.content).endswith(f"[cut: the file is longer than {MAX_SKILL_FILE_BYTES} bytes]")
    blob = await run_tool(loader, "c2", {"name": "big", "file": "blob.bin"}, context)
    assert blob.is_error and "not UTF-8" in str(blob.content)


async def test_a_client_with_skills_offers_the_tool_and_the_model_loads_one(places: dict[str, Any]) -> None:
    replies = [calls(("c1", "skill", {"name": "pdf"})), says("I will extract the text first.")]
    async with serve(replies) as server:
        options = AgentOptions(model="m", base_url=server.base_url, skills=True, cwd=places["project"])
        async with Client(options, env=places["env"]) as client:
            with anyio.fail_after(30):
                await client.query("summarise report.pdf")
                async with aclosing(client.receive_response()) as stream:
                    messages = [message async for message in stream]
    assert isinstance(messages[-1], ResultMessage) and messages[-1].subtype == "success"
    first = server.requests[0].json()
    (offered,) = [t["function"] for t in first["tools"] if t["function"]["name"] == "skill"]
    assert "commit-messages" in offered["description"]
    assert PDF_BODY not in str(first)  # only names and descriptions before the model asks
    results = [m for m in messages if isinstance(m, UserMessage)]
    assert PDF_BODY in str(results[0].content)


async def test_no_skills_no_tool_and_a_tool_named_skill_clashes(places: dict[str, Any]) -> None:
    async with serve([says("hi")]) as server:
        plain = AgentOptions(model="m", base_url=server.base_url, cwd=places["project"])
        async with Client(plain, env=places["env"]) as client:
            await client.query("hi")
            async with aclosing(client.receive_response()) as stream:
                _ = [message async for message in stream]
        assert "tools" not in server.requests[0].json()

        @tool(name="skill")
        def clash() -> str:
            """A tool with the skills' name."""
            return ""

        clashing = AgentOptions(model="m", base_url=server.base_url, skills=True, tools=[clash], cwd=places["project"])
        with pytest.raises(ConfigurationError, match="a tool is named 'skill'"):
            async with Client(clashing, env=places["env"]):
                pass
