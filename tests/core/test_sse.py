"""The WHATWG event-stream decoder, rule by rule, and its properties."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_core import LocalProtocolError, SSEDecoder, SSEMessage, encode_sse
from anyagent_core._sse import MessageFields
from tests.helpers import split_at


def decode(*reads: bytes, max_event_size: int = 1 << 20, eof: bool = True) -> list[SSEMessage]:
    decoder = SSEDecoder(max_event_size=max_event_size)
    out: list[SSEMessage] = []
    for data in reads:
        decoder.feed(data)
        out.extend(decoder.messages())
    if eof:
        decoder.feed(b"")
        out.extend(decoder.messages())
    return out


def datas(*reads: bytes) -> list[str]:
    return [m.data for m in decode(*reads) if m.extension is None]


def test_basic_event_and_data_join() -> None:
    assert datas(b"data: a\ndata: b\n\ndata: c\n\n") == ["a\nb", "c"]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(newline: bytes) -> None:
    body = b"data: one" + newline + newline + b"data: two" + newline + newline
    assert datas(body) == ["one", "two"]


def test_mixed_line_endings_and_cr_cr_lf() -> None:
    # "\r\r\n\n" is three line endings: CR, CRLF, LF.
    assert datas(b"data: a\r\r\n\ndata: b\n\r\n") == ["a", "b"]


def test_crlf_split_across_reads_is_one_line_ending() -> None:
    # The CR ends a line at once; the LF in the next read must not count as a blank line.
    messages = decode(b"data: a\r", b"\ndata: b\r\n\r\n")
    assert [m.data for m in messages] == ["a\nb"]


def test_cr_at_end_of_read_dispatches_without_waiting() -> None:
    decoder = SSEDecoder(max_event_size=1024)
    decoder.feed(b"data: x\r\r")
    assert [m.data for m in decoder.messages()] == ["x"]


def test_bom_stripped_once_even_when_split() -> None:
    assert datas(b"\xef", b"\xbb", b"\xbfdata: a\n\n") == ["a"]
    # A second BOM is part of the field name and is ignored as an unknown field.
    assert datas(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n") == []


def test_comments_and_field_only_blocks_dispatch_nothing() -> None:
    body = b": ping\n\nretry: 3000\n\nid: 1\n\nevent: ping\n\n:\n\ndata: x\n\n"
    messages = decode(body)
    assert [m.data for m in messages] == ["x"]
    assert messages[0].id == "1"
    assert messages[0].retry == 3000
    assert messages[0].event == "message"  # the event type was reset by the blank line


def test_empty_data_dispatches_empty_string() -> None:
    assert datas(b"data:\n\n") == [""]
    assert datas(b"data\n\n") == [""]


def test_one_leading_space_removed_only() -> None:
    assert datas(b"data:  two spaces\n\ndata:none\n\n") == [" two spaces", "none"]


def test_event_type_and_unknown_fields() -> None:
    messages = decode(b"event: update\nfoo: bar\ndata: 1\n\ndata: 2\n\n")
    assert [(m.event, m.data) for m in messages] == [("update", "1"), ("message", "2")]


def test_id_with_nul_is_ignored_and_id_persists() -> None:
    messages = decode(b"id: 7\ndata: a\n\nid: x\x00y\ndata: b\n\ndata: c\n\n")
    assert [m.id for m in messages] == ["7", "7", "7"]


def test_retry_needs_ascii_digits() -> None:
    messages = decode(b"retry: +5\ndata: a\n\nretry: 12\ndata: b\n\n")
    assert [m.retry for m in messages] == [None, 12]


def test_eof_discards_partial_line_and_undispatched_event() -> None:
    assert datas(b"data: a\n\ndata: b\n") == ["a"]
    assert datas(b'data: a\n\ndata: {"half') == ["a"]


@pytest.mark.parametrize(
    ("body", "cut_off"),
    [
        (b'data: a\n\ndata: {"half', b'data: {"half'),
        (b"data: a\n\ndata: b\n", b"data: b\n"),
        (b"data: a\n\ndata: b\r", b"data: b\r"),
        (b"data: a\n\nevent: e\r\ndata: b\n: ping\ndata: c", b"event: e\r\ndata: b\n: ping\ndata: c"),
        (b"data: a\n\nid: 1\nda", b"id: 1\nda"),
        (b"data: a\n\nevent: e\nid: 1\n", b""),  # no data and no partial line: nothing is lost
    ],
)
def test_discarded_counts_the_bytes_of_the_event_cut_off(body: bytes, cut_off: bytes) -> None:
    # What EOF drops is the incomplete event from its first line on, as it was sent: it ends
    # the body, so it starts at offset - discarded.
    for reads in ([body], [body[i : i + 1] for i in range(len(body))]):
        decoder = SSEDecoder(max_event_size=1024)
        for read in [*reads, b""]:
            decoder.feed(read)
            decoder.messages()
        assert decoder.discarded == len(cut_off) and decoder.offset == len(body)


def test_utf8_split_inside_character() -> None:
    text = "héllo 🌍 mundo"
    body = encode_sse(text)
    for cut in range(1, len(body)):
        assert datas(body[:cut], body[cut:]) == [text]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert datas(b"data: a\xffb\n\n") == ["a\ufffdb"]


def test_offsets_and_lines_point_at_the_event() -> None:
    body = b": c\n\ndata: one\n\nid: 3\ndata: two\n\n"
    messages = decode(body)
    assert [(m.offset, m.line) for m in messages] == [(5, 3), (16, 5)]
    assert body[16:21] == b"id: 3"


def test_error_field_is_surfaced() -> None:
    messages = decode(b'error: {"code":500}\n\ndata: [DONE]\n\n')
    assert messages[0].extension == "error_field"
    assert messages[0].data == '{"code":500}'
    assert messages[1].data == "[DONE]"


def test_raw_json_line_is_surfaced() -> None:
    messages = decode(b'{"error":"boom"}\n')
    assert [(m.extension, m.data) for m in messages] == [("raw_line", '{"error":"boom"}')]


def test_incomplete_event_over_the_cap_raises_with_location() -> None:
    decoder = SSEDecoder(max_event_size=100)
    decoder.feed(b"data: ok\n\n")
    assert [m.data for m in decoder.messages()] == ["ok"]
    decoder.feed(b"data: " + b"x" * 200)
    with pytest.raises(LocalProtocolError, match="max_event_size") as info:
        decoder.messages()
    assert info.value.offset == 10


def test_many_data_lines_over_the_cap_raise() -> None:
    decoder = SSEDecoder(max_event_size=100)
    decoder.feed(b"data: 0123456789\n" * 20)
    with pytest.raises(LocalProtocolError, match="max_event_size"):
        decoder.messages()


def test_trickled_input_is_not_rescanned() -> None:
    # A large event arriving a byte at a time stays linear: the scan position advances.
    decoder = SSEDecoder(max_event_size=1 << 20)
    payload = b"data: " + b"x" * 20000 + b"\n\n"
    for i in range(len(payload)):
        decoder.feed(payload[i : i + 1])
        decoder.messages()
        assert decoder._scanned == len(decoder._buf)
    decoder.feed(b"")
    assert decoder.messages() == []


def test_feed_after_eof_raises() -> None:
    decoder = SSEDecoder(max_event_size=1024)
    decoder.feed(b"")
    decoder.feed(b"")  # repeated EOF is harmless
    with pytest.raises(LocalProtocolError, match="after EOF"):
        decoder.feed(b"data: x\n\n")


def test_buffer_is_compacted() -> None:
    decoder = SSEDecoder(max_event_size=1 << 20)
    event = b"data: " + b"y" * 1000 + b"\n\n"
    for _ in range(500):
        decoder.feed(event)
        assert len(decoder.messages()) == 1
    assert len(decoder._buf) < 140_000
    assert decoder.offset == 500 * len(event)


# ---- properties -----------------------------------------------------------------------------

event_texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)


@given(
    events=st.lists(st.tuples(event_texts, st.none() | st.from_regex(r"[a-z]{1,8}", fullmatch=True)), max_size=8),
    cuts=st.lists(st.integers(1, 2000), max_size=30),
)
def test_encode_decode_round_trip(events: list[tuple[str, str | None]], cuts: list[int]) -> None:
    body = b"".join(encode_sse(data, event=kind) for data, kind in events)
    messages = decode(*split_at(body, cuts))
    # Line breaks inside data are normalised to LF, as the spec says.
    expected = [(data.replace("\r\n", "\n").replace("\r", "\n"), kind or "message") for data, kind in events]
    assert [(m.data, m.event) for m in messages] == expected


@given(body=st.binary(max_size=400), cuts=st.lists(st.integers(1, 400), max_size=20))
def test_any_bytes_any_chunking_same_messages(body: bytes, cuts: list[int]) -> None:
    assert decode(*split_at(body, cuts)) == decode(body)
    assert decode(*[body[i : i + 1] for i in range(len(body))]) == decode(body)


@given(
    lines=st.lists(
        st.sampled_from(
            [
                b"data: a",
                b"data:",
                b"data",
                b": c",
                b"",
                b"id: 1",
                b"event: e",
                b"retry: 5",
                b"x: y",
                b"\xef\xbb\xbf",
                b"data: \xc3",
            ]
        ),
        max_size=20,
    ),
    newline=st.sampled_from([b"\n", b"\r", b"\r\n"]),
    cuts=st.lists(st.integers(1, 200), max_size=20),
)
def test_line_soup_chunking_invariant(lines: list[bytes], newline: bytes, cuts: list[int]) -> None:
    body = newline.join(lines)
    assert decode(*split_at(body, cuts)) == decode(body)


def _decoded(reads: list[bytes]) -> tuple[list[SSEMessage], int]:
    decoder = SSEDecoder(max_event_size=1 << 20)
    messages: list[SSEMessage] = []
    for read in [*reads, b""]:
        decoder.feed(read)
        messages.extend(decoder.messages())
    return messages, decoder.discarded


@given(
    lines=st.lists(
        st.one_of(
            st.sampled_from([b"", b"data: a", b"data:", b"data", b": c", b"id: 1", b"event: e", b"retry: 5", b"x: y"]),
            st.binary(max_size=8).filter(
                lambda raw: 10 not in raw and 13 not in raw and not raw.startswith((b"error", b"{", b"["))
            ),
        ),
        max_size=12,
    ),
    newlines=st.lists(st.sampled_from([b"\n", b"\r", b"\r\n"]), min_size=12, max_size=12),
    data=st.data(),
)
def test_what_eof_discards_is_the_end_of_the_body_and_nothing_else(
    lines: list[bytes], newlines: list[bytes], data: st.DataObject
) -> None:
    # However the body is split, EOF drops the same count of bytes, and they are its last ones:
    # the body without them decodes to the same messages, dropping nothing. (Lines that are
    # surfaced at once, "error:" and raw JSON, are left out: an event begun with one is counted
    # from it.)
    body = b"".join(line + end for line, end in zip(lines, newlines, strict=False))
    body = body[: data.draw(st.integers(0, len(body)), label="cut at")]
    messages, discarded = _decoded([body])
    cuts = data.draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=8), label="cuts")
    assert _decoded(split_at(body, cuts)) == (messages, discarded)
    assert 0 <= discarded <= len(body)
    assert _decoded([body[: len(body) - discarded]]) == (messages, 0)


def _outcome(reads: list[bytes], cap: int) -> object:
    try:
        return decode(*reads, max_event_size=cap)
    except LocalProtocolError as exc:
        return ("LocalProtocolError", exc.msg, exc.offset, exc.line, exc.snippet)


@given(
    lines=st.lists(
        st.one_of(
            st.sampled_from([b"", b": comment", b"event: e", b"id: 1"]),
            st.integers(0, 120).map(lambda n: b"data: " + b"x" * n),
            st.integers(0, 120).map(lambda n: b":" + b"c" * n),
        ),
        max_size=14,
    ),
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    cap=st.integers(64, 160),
    data=st.data(),
)
def test_the_size_cap_does_not_depend_on_chunking(
    lines: list[bytes], newline: bytes, cap: int, data: st.DataObject
) -> None:
    body = newline.join(lines) + newline
    cuts = data.draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=12), label="cuts")
    whole = _outcome([body], cap)
    assert _outcome(split_at(body, cuts), cap) == whole
    assert _outcome([body[i : i + 1] for i in range(len(body))], cap) == whole


@contextmanager
def _general_lines_only() -> Iterator[None]:
    """Every LF line through the general loop: the reference for the one-data-line fast path."""
    fast = SSEDecoder._lines_lf

    def general(self: SSEDecoder, lines: bytes, out: list[MessageFields]) -> None:
        self._lines_lf_general(lines[:-1], out, self._base + self._start)

    SSEDecoder._lines_lf = general  # type: ignore[method-assign]
    try:
        yield
    finally:
        SSEDecoder._lines_lf = fast  # type: ignore[method-assign]


@given(
    lines=st.lists(
        st.one_of(
            st.sampled_from(
                [
                    b"",
                    b"data:",
                    b"data",
                    b"data:  two spaces",
                    b"data:\xc3",
                    b": keep-alive",
                    b"event: e",
                    b"id: 7",
                    b"retry: 30",
                    b"error: boom",
                    b'{"raw": 1}',
                    b"x: y",
                ]
            ),
            st.text(st.characters(exclude_characters="\r"), max_size=40).map(
                lambda text: b"data: " + text.encode("utf-8", "surrogatepass")
            ),
            st.integers(0, 120).map(lambda n: b"data: " + b"x" * n),
        ),
        max_size=24,
    ),
    cap=st.integers(48, 400),
    data=st.data(),
)
def test_one_data_line_fast_path_matches_the_general_loop(lines: list[bytes], cap: int, data: st.DataObject) -> None:
    # LF line endings only (a CR switches the decoder to its other loop); an LF in a text makes
    # two lines of it.
    body = b"\n".join(lines) + data.draw(st.sampled_from([b"", b"\n", b"\n\n"]), label="tail")
    cuts = data.draw(st.lists(st.integers(1, max(1, len(body))), max_size=10), label="cuts")
    reads = split_at(body, cuts)
    fast = _outcome(reads, cap)
    with _general_lines_only():
        general = _outcome(reads, cap)
    assert fast == general


_event_values = st.one_of(
    st.text(st.characters(exclude_characters="\r"), max_size=30).map(
        lambda text: text.encode("utf-8", "surrogatepass")
    ),
    st.binary(max_size=12).filter(lambda raw: 13 not in raw),
    st.sampled_from([b"", b" ", b"data: x", b"\ndata: y", b"x\n", b"\xc3", b"\xe2\x82"]),
    st.integers(0, 120).map(lambda n: b"x" * n),
)


@given(
    events=st.lists(
        st.one_of(
            _event_values.map(lambda value: b"data: " + value),
            st.sampled_from([b"data:x", b": keep-alive", b"event: e\ndata: z", b"id: 7", b"", b"\n"]),
        ),
        max_size=16,
    ),
    cap=st.integers(32, 200),
    data=st.data(),
)
def test_the_split_of_whole_reads_matches_the_general_loop(events: list[bytes], cap: int, data: st.DataObject) -> None:
    # Blocks ended by blank lines, mostly one "data: " line each (the read-at-once split), among
    # them values holding LFs, "data: " itself, bytes that are not UTF-8 and lines over the cap.
    body = b"\n\n".join(events) + data.draw(st.sampled_from([b"", b"\n", b"\n\n", b"\n\n\n"]), label="tail")
    cuts = data.draw(st.lists(st.integers(1, max(1, len(body))), max_size=6), label="cuts")
    for reads in (split_at(body, cuts), [body]):
        fast = _outcome(reads, cap)
        with _general_lines_only():
            general = _outcome(reads, cap)
        assert fast == general


@given(
    lines=st.lists(
        st.one_of(
            st.sampled_from([b"", b"data:", b": keep-alive", b"event: e", b"id: 7", b"error: boom", b'{"raw": 1}']),
            st.text(st.characters(exclude_characters="\r\n"), max_size=20).map(
                lambda text: b"data: " + text.encode("utf-8", "surrogatepass")
            ),
        ),
        max_size=16,
    ),
    data=st.data(),
)
def test_message_fields_are_the_messages_and_messages_are_all_sse_messages(
    lines: list[bytes], data: st.DataObject
) -> None:
    # message_fields() may hand a message over as a plain tuple; messages() never does.
    body = b"\n".join(lines) + b"\n\n"
    reads = split_at(body, data.draw(st.lists(st.integers(1, len(body)), max_size=6), label="cuts"))
    fields_decoder = SSEDecoder(max_event_size=1 << 20)
    messages_decoder = SSEDecoder(max_event_size=1 << 20)
    fields: list[tuple[object, ...]] = []
    messages: list[SSEMessage] = []
    for read in [*reads, b""]:
        fields_decoder.feed(read)
        messages_decoder.feed(read)
        fields.extend(fields_decoder.message_fields())
        messages.extend(messages_decoder.messages())
    assert all(type(message) is SSEMessage for message in messages)
    assert [tuple(f) for f in fields] == [tuple(m) for m in messages]


def test_the_fast_path_hands_over_plain_tuples_of_the_message_fields() -> None:
    decoder = SSEDecoder(max_event_size=1 << 20)
    decoder.feed(b'data: {"a": 1}\n\n: comment\n\ndata: two\n\n')
    (first, second) = decoder.message_fields()
    assert type(first) is tuple and first == ("message", '{"a": 1}', "", None, 0, 1, None)
    assert second == SSEMessage("message", "two", "", None, 27, 5)
