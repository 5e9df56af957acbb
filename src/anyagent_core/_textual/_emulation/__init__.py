"""Tool-call emulation: tools described in the system prompt, calls read back from the text.

Many local models (Hermes, Qwen 2.5, small models behind llama.cpp) answer a tool call as plain
text content. ``render_tool_prompt`` describes the tools the way those models were trained on,
``parse_tool_calls`` and ``ToolCallTextFilter`` find the calls in the answer (whole, or while it
streams), ``to_tool_uses`` turns them into tool-use blocks, and ``emulated_history`` writes a
conversation back as text for an endpoint that knows nothing of tools.

* ``_prompt``: ``render_tool_prompt``;
* ``_formats``: the forms a call is written in (JSON in ``<tool_call>`` tags, Qwen3-Coder's
  XML, fenced JSON) and their parsers, each block a ``TextCall``;
* ``_scanner``: ``ToolCallTextFilter`` and ``parse_tool_calls``, which find the calls in a text
  and tidy what is left to show;
* ``_history``: ``to_tool_uses`` and ``emulated_history``.
"""
