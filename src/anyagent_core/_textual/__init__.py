"""What the agent reads from text a model wrote: reasoning in ``<think>`` tags (``_think``) and
tool calls written as text (``_emulation``). The wire stays as it is; these rules run over the
content a dialect delivered.
"""
