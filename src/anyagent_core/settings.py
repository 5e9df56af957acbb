"""What the agent loop decides with, for the packages that build its settings.

``LoopSettings`` and the knobs it shares with a transport package's options (``KNOBS``, built
into attrs fields by ``knob``/``knob_validator``), the value checks both use (``checks``), the
permission rules (``PermissionPolicy``, ``PermissionRule``, ``PermissionDecision``) and the
names of the modes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _checks as checks
from ._agent._output import parse_structured_output
from ._agent._permissions import PERMISSION_MODES, PermissionMode, PermissionPolicy, PermissionRule
from ._agent._settings import (
    DOOM_LOOP_ACTIONS,
    KNOBS,
    NO_PRICING,
    OUTPUT_MODES,
    TOOL_MODES,
    DoomLoopAction,
    Knob,
    LoopSettings,
    OutputMode,
    ToolMode,
    knob,
    knob_validator,
    str_tuple,
    validator,
)
from ._agent._spend import cost_usd
from ._util import lazy_names

if TYPE_CHECKING:
    from ._agent._answers import PermissionDecision
    from ._agent._pricing import Pricing
    from ._agent._traits import LoopTool

#: Made with the first call the rules decide on (a run whose tools are called), with the first
#: tool given, and with the first prices named.
__getattr__, __dir__ = lazy_names(
    globals(),
    {"PermissionDecision": "._agent._answers", "LoopTool": "._agent._traits", "Pricing": "._agent._pricing"},
)

__all__ = [
    "DOOM_LOOP_ACTIONS",
    "KNOBS",
    "NO_PRICING",
    "OUTPUT_MODES",
    "PERMISSION_MODES",
    "TOOL_MODES",
    "DoomLoopAction",
    "Knob",
    "LoopSettings",
    "LoopTool",
    "OutputMode",
    "PermissionDecision",
    "PermissionMode",
    "PermissionPolicy",
    "PermissionRule",
    "Pricing",
    "ToolMode",
    "checks",
    "cost_usd",
    "knob",
    "knob_validator",
    "parse_structured_output",
    "str_tuple",
    "validator",
]
