"""The one exception mapper every transport translates its failures with."""

from __future__ import annotations

import itertools
import zlib

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_httpx import APIConnectionError, APITimeoutError, ConfigurationError, ContentDecodingError
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


WBITS = {"gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS}


def encode(body: bytes, coding: str) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, WBITS[coding])
    return compressor.compress(body) + compressor.flush()


def decode_in_cuts(coding: str, encoded: bytes, cuts: list[int]) -> tuple[bytes, ContentDecodingError | None]:
    """What ``encoded`` decodes to when it arrives cut at ``cuts``, and the error it ends in."""
    decoders = decoders_for(["gzip" if coding == "gzip" else "deflate"], url="http://x/v1")
    points = sorted({0, len(encoded), *(cut for cut in cuts if cut < len(encoded))})
    out: list[bytes] = []
    try:
        for start, end in itertools.pairwise(points):
            out += decode_pieces(decoders, encoded[start:end], final=False)
        out += decode_pieces(decoders, b"", final=True)
    except ContentDecodingError as error:
        return b"".join(out), error
    return b"".join(out), None


@given(
    body=st.binary(min_size=1, max_size=3000),
    coding=st.sampled_from(["gzip", "deflate", "raw-deflate"]),
    flip=st.integers(0, 10**6),
    mask=st.integers(1, 255),
    cuts=st.lists(st.integers(0, 4000), max_size=8),
)
def test_a_corrupt_body_fails_at_or_after_the_corrupt_byte_and_names_its_coding(
    body: bytes, coding: str, flip: int, mask: int, cuts: list[int]
) -> None:
    encoded = bytearray(encode(body, coding))
    flip %= len(encoded)
    encoded[flip] ^= mask
    _, error = decode_in_cuts(coding, bytes(encoded), cuts)
    if error is None:
        return  # some bytes can change without breaking the stream (a raw deflate has no check)
    assert error.coding == ("gzip" if coding == "gzip" else "deflate")
    assert error.offset is not None and flip <= error.offset < len(encoded)  # nothing fails before it
    assert error.url == "http://x/v1" and error.response_started
    assert isinstance(error, APIConnectionError)
    assert f"not valid {error.coding} at byte {error.offset} (" in str(error)


@given(
    body=st.binary(max_size=3000),
    garbage=st.binary(min_size=1, max_size=20).filter(lambda g: g[0] & 0b110 == 0b110),  # block type 3: none
    cuts=st.lists(st.integers(0, 4000), max_size=8),
)
def test_a_gzip_body_fails_at_the_same_byte_however_it_arrives(body: bytes, garbage: bytes, cuts: list[int]) -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, WBITS["gzip"])
    valid = compressor.compress(body) + compressor.flush(zlib.Z_SYNC_FLUSH)
    decoded, error = decode_in_cuts("gzip", valid + garbage, cuts)
    assert error is not None and error.offset == len(valid)  # the garbage's first byte
    assert body.startswith(decoded)  # only what decoded came before


def test_a_deflate_body_is_reported_as_the_reading_that_got_further() -> None:
    body = bytes(range(256)) * 64
    # zlib-wrapped, corrupt at its end (the checksum): the wrapped reading's error
    wrapped = bytearray(encode(body, "deflate"))
    wrapped[-1] ^= 1
    _, error = decode_in_cuts("deflate", bytes(wrapped), [])
    assert error is not None and "incorrect data check" in str(error) and error.offset == len(wrapped) - 1
    # raw, cut short of a block and then garbage: the raw reading's error, not the wrapped one's
    # ("incorrect header check" at byte 1)
    compressor = zlib.compressobj(6, zlib.DEFLATED, WBITS["raw-deflate"])
    raw = compressor.compress(body) + compressor.flush(zlib.Z_SYNC_FLUSH)
    _, error = decode_in_cuts("deflate", raw + b"\xff" * 4, [])
    assert error is not None and error.offset == len(raw) and "header" not in str(error)


@given(body=st.binary(max_size=500), cuts=st.lists(st.integers(0, 600), max_size=8), first=st.integers(0, 2))
def test_a_deflate_body_decodes_however_it_is_cut_raw_or_wrapped(body: bytes, cuts: list[int], first: int) -> None:
    # Which of the two a body is, its first two bytes say (a zlib header, or not): a first read
    # shorter than that does not decide it.
    for coding in ("deflate", "raw-deflate"):
        assert decode_in_cuts(coding, encode(body, coding), [first, *cuts]) == (body, None)
