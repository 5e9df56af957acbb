"""Subagents: the ``task`` tool, and the nested run that performs a task.

With ``AgentOptions.agents``, the model gets a ``task`` tool naming the agents and what each is
for. A task runs as a client of its own, with the agent's system prompt, tools, model and turn
limit, the parent run's transport, and what is left of the parent run's budgets; its usage and
cost are added to the parent run, and its final answer is the task's result. Subagents do not
nest (a subagent gets no ``task`` tool).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING

import attrs

from anyagent_core import AgentLoop, ResultMessage, ToolSpec
from anyagent_core.settings import PermissionRule
from anyagent_core.value import Described

from ._tools import Tool, ToolContext, ToolError, tool

if TYPE_CHECKING:
    from ._client import Client
    from ._options import AgentOptions
    from ._transports import AsyncTransport

__all__ = ["TASK_TOOL", "Subagents"]

#: The name of the tool subagent tasks are handed over with.
TASK_TOOL = "task"


@attrs.define(eq=False, repr=False)
class Subagents(Described):
    """Runs the tasks of the parent client's run."""

    options: AgentOptions
    env: Mapping[str, str] | None
    transport: AsyncTransport
    model: str
    """The parent's model: a subagent without a model of its own uses it."""
    loop: Callable[[], AgentLoop]
    """The parent's loop (for its budgets and its spend)."""
    client: Callable[..., Client]
    """How to make a client (the parent's class)."""
    served: Callable[[], Sequence[Tool]] = attrs.field(default=lambda: ())
    """The parent's MCP servers' tools as they are now: an agent without a tool list of its own
    gets them too, over the parent's connections."""

    def tool(self) -> Tool:
        """The ``task`` tool, describing the agents."""
        agents = self.options.agents
        names = sorted(agents)
        listing = "\n".join(f"- {name}: {agents[name].description}" for name in names)

        async def task(agent: str, prompt: str, context: ToolContext) -> str:
            return await self.run(agent, prompt)

        made = tool(
            name=TASK_TOOL,
            description="Hand a self-contained task to a subagent and get its final answer. "
            f"The prompt must say everything it needs to know. Agents:\n{listing}",
            read_only=all(_read_only(definition.tools, self.options) for definition in agents.values()),
        )(task)
        parameters = {
            "type": "object",
            "properties": {
                "agent": {"type": "string", "enum": names, "description": "Which agent runs the task."},
                "prompt": {"type": "string", "description": "The task, with everything the agent needs to know."},
            },
            "required": ["agent", "prompt"],
            "additionalProperties": False,
        }
        return attrs.evolve(made, spec=attrs.evolve(made.spec, parameters=parameters))

    async def run(self, name: str, prompt: str) -> str:
        """Run the agent ``name`` on ``prompt``; its final answer, or ``ToolError`` saying why
        there is none."""
        options = self.options
        definition = options.agents.get(name)
        if definition is None:
            raise ToolError(f"there is no agent named {name!r}; agents: {', '.join(sorted(options.agents))}")
        loop = self.loop()
        tokens_left, usd_left = loop.budget_left()
        if tokens_left == 0 or usd_left == 0.0:
            raise ToolError(f"the {name} agent was not started: the run's budget is spent")
        tools = definition.tools if definition.tools is not None else (*options.tools, *self.served())
        have = {item if isinstance(item, str) else item.name for item in tools}
        child_options = attrs.evolve(
            options,
            # the parent's rules for the tools the agent has (a rule for a tool it lacks never applies)
            allowed_tools=_rules_for(options.allowed_tools, have),
            disallowed_tools=_rules_for(options.disallowed_tools, have),
            max_total_tokens=tokens_left,
            max_budget_usd=usd_left,
            model=definition.model or self.model,
            system_prompt=definition.prompt,
            tools=tools,
            # an agent that lists its tools gets those only: no skill tool
            skills=options.skills and definition.tools is None,
            skill_dirs=options.skill_dirs if definition.tools is None else (),
            max_turns=definition.max_turns if definition.max_turns is not None else options.max_turns,
            agents={},
            mcp_servers={},  # the parent's servers' tools come in tools, over its connections
            output_schema=None,
            include_partial_messages=False,
            http_client=None,
            transport=self.transport,
            # a forced tool of the parent's is not among the subagent's tools
            tool_choice=options.tool_choice if options.tool_choice in (None, "auto", "none", "required") else None,
        )
        result: ResultMessage | None = None
        async with self.client(child_options, env=self.env, _agent=name) as child:
            await child.query(prompt)
            async with aclosing(child.receive_response()) as messages:
                async for message in messages:
                    if isinstance(message, ResultMessage):
                        result = message
        assert result is not None
        loop.add_usage(result.usage, cost_usd=result.total_cost_usd)  # the run pays for its subagents
        if result.pending_tool_calls:
            names = ", ".join(sorted({call.name for call in result.pending_tool_calls}))
            raise ToolError(
                f"the {name} agent did not finish: it called {names}, which only the caller answers, "
                "and a subagent cannot wait for that"
            )
        if result.is_error or result.subtype != "success":
            why = "; ".join(result.errors) or result.subtype
            raise ToolError(f"the {name} agent did not finish ({why}); its last answer: {result.result or '(none)'}")
        return result.result or "(the agent finished without a text answer)"


def _rules_for(rules: Sequence[str], names: set[str]) -> tuple[str, ...]:
    return tuple(rule for rule in rules if PermissionRule.parse(rule).tool in names)


def _read_only(tools: Sequence[str | Tool | ToolSpec] | None, options: AgentOptions) -> bool:
    if tools is None:
        items: Sequence[object] = options.resolved_tools()
    else:
        from ._tools import BUILTIN_TOOLS  # the built-in tools load only when named

        items = tuple(BUILTIN_TOOLS.get(i, i) if isinstance(i, str) else i for i in tools)
    return all(isinstance(item, Tool) and item.read_only for item in items)
