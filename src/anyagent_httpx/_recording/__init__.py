"""Recording HTTP exchanges to a cassette, and replaying them, at the ``httpx`` transport level.

``chunks`` are the raw response bytes exactly as they arrived, before content decoding, with
their boundaries: replaying them reproduces the chunking the code under test saw live.
``RecordingTransport`` writes them, ``ReplayTransport`` serves them; both plug in through
``httpx.AsyncClient(transport=...)``. Everything written goes through ``redact_exchange``
first: credentials are removed, and secret values are replaced by ``<redacted>`` wherever they
appear. See docs/recording.md.

``_cassette``: the value types and the file format; ``_redact``: redaction; ``_record`` and
``_replay``: the two transports; ``_json``: the strict JSON they share.
"""

from __future__ import annotations

from ._cassette import Cassette, Exchange, RecordedRequest, RecordedResponse
from ._record import RecordingTransport
from ._redact import redact_exchange
from ._replay import ReplayTransport

__all__ = [
    "Cassette",
    "Exchange",
    "RecordedRequest",
    "RecordedResponse",
    "RecordingTransport",
    "ReplayTransport",
    "redact_exchange",
]
