"""What fits in a model's context: token counts (``_tokens``), compaction strategies
(``_strategies``) and the servers' answers about their window (``_window``). Pure; the public
names are in ``anyagent_core.context``."""
