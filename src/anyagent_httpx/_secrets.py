"""Where a known secret is found in text: the one rule that log scrubbing (``_logging.Scrubber``)
and recording (``_recording.redact_exchange``) share.

A secret of ``MIN_SECRET_LENGTH`` (6) characters or more is replaced wherever it occurs, inside
a longer word too. A shorter one (a local server's ``"k"``, vLLM's ``"EMPTY"``) would match
ordinary text: replaced everywhere, a one-character key would take that character out of every
message. It is replaced only where it stands as a whole token, with no ASCII letter, digit,
``_`` or ``-`` right before or after it: ``Bearer k``, ``key=k`` and ``provided: k.`` lose it,
``broke`` keeps its ``k``. Where the key itself is printed (the ``Authorization`` header of a
request's repr, a recorded request's headers), the whole value is redacted whatever its length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "secret_pattern"]

#: What a secret is replaced by.
REDACTED = "<redacted>"

#: Secrets shorter than this are replaced only as whole tokens (see the module docstring).
MIN_SECRET_LENGTH = 6

_TOKEN = "A-Za-z0-9_\\-"
"""The characters a short secret may not touch (as a regex class body)."""


def secret_pattern(secrets: Iterable[str]) -> str:
    """A regex (source, for ``str`` or, UTF-8 encoded, ``bytes``) matching every occurrence of
    ``secrets`` the rule replaces, longest first; ``""`` when there are none."""
    ordered = sorted({secret for secret in secrets if secret}, key=lambda s: (-len(s), s))
    return "|".join(
        re.escape(secret) if len(secret) >= MIN_SECRET_LENGTH else f"(?<![{_TOKEN}]){re.escape(secret)}(?![{_TOKEN}])"
        for secret in ordered
    )
