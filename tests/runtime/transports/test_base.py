"""The one exception mapper every transport translates its failures with."""

from __future__ import annotations

import itertools
import zlib

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_httpx import APIConnectionError, APITimeoutError, ConfigurationError
from anyagent_httpx._transports._base import (
    DECODE_PIECE,
    ErrorTable,
    TransportFailure,
    decode_pieces,
    decoders_for,
    map_exceptions,
)

TABLE: ErrorTable = {TimeoutError: APITimeoutError, OSError: APIConnectionError, ValueError: APIConnectionError}


@pytest.mark.parametrize("started", [False, True])
def test_the_first_matching_entry_picks_the_error(started: bool) -> None:
    cause = TimeoutError("too slow")  # an OSError too: the earlier entry wins
    with pytest.raises(APITimeoutError) as caught, map_exceptions(TABLE, url="http://x/v1", response_started=started):
        raise cause
    assert caught.value.response_started is started
    assert caught.value.url == "http://x/v1"
    assert caught.value.__cause__ is cause
    assert str(caught.value) == "TimeoutError: too slow"


def test_messages_name_the_library_exception_unless_the_transport_wrote_them() -> None:
    class Hangup(TransportFailure):
        pass

    for raised, message in [
        (ConnectionResetError("reset by peer"), "ConnectionResetError: reset by peer"),
        (OSError(), "OSError: OSError"),
        (Hangup("the server closed the connection"), "the server closed the connection"),
    ]:
        with pytest.raises(APIConnectionError) as caught, map_exceptions(TABLE, url=None, response_started=False):
            raise raised
        assert str(caught.value) == message


def test_what_the_table_does_not_name_passes_through_unchanged() -> None:
    ours = ConfigurationError("a ValueError, but ours")
    for raised in [KeyError("k"), StopAsyncIteration(), ours, APIConnectionError("already mapped")]:
        with pytest.raises(type(raised)) as caught, map_exceptions(TABLE, url=None, response_started=True):
            raise raised
        assert caught.value is raised
    with pytest.raises(KeyboardInterrupt), map_exceptions(TABLE, url=None, response_started=True):
        raise KeyboardInterrupt


@pytest.mark.anyio
async def test_cancellation_passes_through() -> None:
    with anyio.move_on_after(0) as scope, map_exceptions(TABLE, url=None, response_started=True):
        await anyio.sleep(1)
    assert scope.cancelled_caught


@given(st.binary(max_size=2000), st.integers(1, 400), st.sampled_from(["gzip", "deflate", "raw-deflate"]))
def test_decoding_hands_up_bounded_pieces_that_join_to_the_body(seed: bytes, repeat: int, coding: str) -> None:
    body = seed * repeat + b"a" * (DECODE_PIECE * 3)  # well over one piece, compressing hard
    wbits = {"gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS}[coding]
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    encoded = compressor.compress(body) + compressor.flush()
    decoders = decoders_for(["gzip" if coding == "gzip" else "deflate"])
    pieces: list[bytes] = []
    for start in range(0, len(encoded), 997):
        pieces += decode_pieces(decoders, encoded[start : start + 997], final=False)
    pieces += decode_pieces(decoders, b"", final=True)
    assert b"".join(pieces) == body
    assert all(0 < len(piece) <= DECODE_PIECE for piece in pieces)


def test_two_codings_are_undone_in_turn_in_bounded_pieces() -> None:
    body = b"x" * (DECODE_PIECE * 5)
    inner = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS)
    deflated = inner.compress(body) + inner.flush()
    outer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    encoded = outer.compress(deflated) + outer.flush()
    pieces = list(decode_pieces(decoders_for(["deflate, gzip"]), encoded, final=True))
    assert b"".join(pieces) == body and max(map(len, pieces)) <= DECODE_PIECE


@given(body=st.binary(max_size=500), cuts=st.lists(st.integers(0, 600), max_size=8), first=st.integers(0, 2))
def test_a_deflate_body_decodes_however_it_is_cut_raw_or_wrapped(body: bytes, cuts: list[int], first: int) -> None:
    # Which of the two a body is, its first two bytes say (a zlib header, or not): a first read
    # shorter than that does not decide it.
    for coding, wbits in (("deflate", zlib.MAX_WBITS), ("raw-deflate", -zlib.MAX_WBITS)):
        compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
        encoded = compressor.compress(body) + compressor.flush()
        decoders = decoders_for(["deflate"])
        points = sorted({0, len(encoded), *(cut for cut in (first, *cuts) if cut < len(encoded))})
        out = b"".join(
            piece
            for start, end in itertools.pairwise(points)
            for piece in decode_pieces(decoders, encoded[start:end], final=False)
        )
        out += b"".join(decode_pieces(decoders, b"", final=True))
        assert out == body, coding
