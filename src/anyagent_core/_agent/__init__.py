"""The agent loop (``AgentLoop``), the second machine of the core, and what it decides with.

``_loop`` holds the machine, ``_loop_state`` its transition tables, ``_actions`` what it asks
the driver to do, ``_settings`` its settings (the knobs shared with ``AgentOptions`` declared
once), ``_round`` one tool round and the doom-loop check, ``_spend`` usage and cost,
``_output`` structured output, ``_conversation`` the shape rules of every request,
``_permissions`` the permission rules, ``_retry`` retry and fallback decisions, ``_results``
what a run reports. Nothing here imports a wire dialect.
"""
