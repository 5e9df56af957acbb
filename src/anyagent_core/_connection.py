"""``Connection``: one request/response exchange at a time, with h11's pull API.

::

    conn = Connection(Endpoint(base_url="http://localhost:8080/v1"))
    request = conn.send(StartTurn(model="m", messages=[UserMessage(content="hi")]))
    # ... the transport sends request.method/url/headers/body and gets a response ...
    conn.receive_head(status, headers)
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            conn.receive_data(await read_some())   # b"" at EOF
        elif event is PAUSED:
            break
        else:
            handle(event)

``receive_data`` only buffers; parsing happens in ``next_event``, which returns one event at a
time, so an error surfaces only after every good event before it was delivered. Once a
response's ``MessageComplete`` has been returned, ``next_event`` keeps returning ``NEED_DATA``
while the rest of the body is drained, then ``PAUSED``; ``start_next_cycle()`` readies the
connection for the next request.

The connection owns the states and the order of calls; what the bytes mean belongs to its
dialect (``_dialects``, OpenAI chat completions unless told otherwise), which writes the request
and makes each response's ``Assembler``; the body reader ``_framing`` chooses for the response
head feeds it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Final, NoReturn, final

from ._config import DEFAULT_CONFIG, Config, Endpoint, redact_url
from ._dialects import DEFAULT_DIALECT, Dialect
from ._errors import LocalProtocolError, RemoteProtocolError
from ._events import Event, MessageComplete, Request, StartTurn
from ._framing import Assembler, BodyReader, choose_reader
from ._messages import AssistantMessage
from ._state import ConnectionState, Input, Side, State
from ._util import NEED_DATA, PAUSED, NeedData, Paused

__all__ = ["Connection"]

HeaderItems = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]

# The members the hot paths compare with, read once: an enum member read from its class is a
# descriptor call (about 90 ns on CPython 3.11), a module global a dict lookup.
_ERROR: Final = State.ERROR
_DONE: Final = State.DONE
_SEND_BODY: Final = State.SEND_BODY
_MESSAGE_DONE: Final = State.MESSAGE_DONE
_SEND_REQUEST: Final = Input.SEND_REQUEST
_RESPONSE_HEAD: Final = Input.RESPONSE_HEAD
_MESSAGE_COMPLETE: Final = Input.MESSAGE_COMPLETE
_END_OF_BODY: Final = Input.END_OF_BODY
_START_NEXT_CYCLE: Final = Input.START_NEXT_CYCLE


def _content_type(headers: HeaderItems) -> str:
    """The Content-Type header's value ("" if absent); raises if the headers are malformed."""
    kind = type(headers)
    if kind is list or kind is tuple:
        # What transports pass: (str, str) pairs, read without the general loop's checks and
        # decoding; the first item of any other form sends the whole list to that loop.
        found = ""
        for item in headers:
            if type(item) is not tuple or len(item) != 2:
                break
            name, value = item
            if type(name) is not str or type(value) is not str:
                break
            # Only a 12-character name can lower() to "content-type" (lowering changes the length
            # of a name only through "İ", whose result keeps a combining dot): other lengths,
            # and the name as transports write it, need no lower().
            if not found and len(name) == 12 and (name == "content-type" or name.lower() == "content-type"):
                found = value
        else:
            return found
    items = headers.items() if isinstance(headers, Mapping) else headers
    try:
        iterator = iter(items)
    except TypeError:
        raise LocalProtocolError(f"headers must be a mapping or (name, value) pairs, not {headers!r}") from None
    found = ""
    for item in iterator:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise LocalProtocolError(f"headers must be (name, value) pairs, not {item!r}") from None
        if not isinstance(name, str | bytes) or not isinstance(value, str | bytes):
            raise LocalProtocolError(f"header names and values must be str or bytes, not {item!r}")
        key = name.decode("latin-1") if isinstance(name, bytes) else name
        if key.lower() == "content-type" and not found:
            found = value.decode("latin-1") if isinstance(value, bytes) else value
    return found


@final
class Connection:
    """The sans-IO protocol machine for one endpoint, speaking ``dialect`` (by default OpenAI
    chat completions, which every OpenAI-compatible server speaks)."""

    def __init__(
        self, endpoint: Endpoint, *, dialect: Dialect = DEFAULT_DIALECT, config: Config = DEFAULT_CONFIG
    ) -> None:
        self.endpoint = endpoint
        self.dialect = dialect
        self.config = config
        self._cstate = ConnectionState()
        self._reader: BodyReader | None = None
        self._assembler: Assembler | None = None
        self._events: deque[Event] = deque()
        self._batch: list[Event] = []
        self._error: RemoteProtocolError | None = None
        self._eof = False
        self._fresh = False  # bytes arrived since the reader last ran
        self._single_choice = False
        self.request: Request | None = None
        """The request of the current cycle."""
        self.status_code: int | None = None
        """The response status of the current cycle."""

    # ---- state ----------------------------------------------------------------------------

    @property
    def our_state(self) -> State:
        """The client (request) side: IDLE, DONE or ERROR."""
        return self._cstate.client

    @property
    def their_state(self) -> State:
        """The server (response) side: IDLE, SEND_RESPONSE, SEND_BODY, MESSAGE_DONE, DONE or ERROR."""
        return self._cstate.server

    def __repr__(self) -> str:
        url = redact_url(self.endpoint.base_url)
        return f"<Connection {url} client={self.our_state.value} server={self.their_state.value}>"

    # ---- sending --------------------------------------------------------------------------

    def send(self, turn: StartTurn) -> Request:
        """Validate the state, advance it and return the request to perform."""
        if not isinstance(turn, StartTurn):
            raise LocalProtocolError(f"send() takes a StartTurn, not {type(turn).__name__}")
        self._check_usable()
        try:
            self._cstate.process_input(_SEND_REQUEST)
            request = self.dialect.write_request(turn, self.endpoint, self.config)
            single_choice = self.dialect.single_choice(turn)
        except BaseException:
            self._enter_error(Side.CLIENT)
            raise
        self._single_choice = single_choice
        self.request = request
        return request

    def send_failed(self) -> None:
        """The transport could not deliver the request (or was cancelled doing so)."""
        self._enter_error(Side.CLIENT)

    def _expect_response(self, *, single_choice: bool) -> None:
        """Enter the receiving state without a request: for decoding recorded responses."""
        cstate = self._cstate
        if cstate.client is _ERROR or cstate.server is _ERROR:
            self._check_usable()  # raises, saying which side failed
        cstate.process_input(_SEND_REQUEST)
        self._single_choice = single_choice

    # ---- receiving ------------------------------------------------------------------------

    def receive_head(self, status_code: int, headers: HeaderItems = ()) -> None:
        """The response's status and headers arrived; they choose the body reader.

        A status from 600 up is the server's error (``RemoteProtocolError``); one below 200 is
        the caller's (``LocalProtocolError``: informational responses are the transport's)."""
        cstate = self._cstate
        if cstate.client is _ERROR or cstate.server is _ERROR:
            self._check_usable()  # raises, saying which side failed
        if type(status_code) is not int or not 200 <= status_code < 600:
            self._enter_error(Side.SERVER)
            if type(status_code) is int and status_code >= 600:
                # HTTP/1.1 framing carries any three digits: the server chose a status HTTP lacks.
                raise RemoteProtocolError(
                    f"the server answered with status {status_code}, which HTTP does not have (200-599)"
                )
            raise LocalProtocolError(
                f"receive_head() takes a final HTTP status (200-599), not {status_code!r}; "
                "informational responses are the transport's business"
            )
        try:
            content_type = _content_type(headers)
        except LocalProtocolError:
            self._enter_error(Side.SERVER)
            raise
        try:
            cstate.process_input(_RESPONSE_HEAD)  # what _process does, inlined
        except LocalProtocolError:
            self._reader = None  # the side that refused is in ERROR already
            self._events.clear()
            raise
        self.status_code = status_code
        self._assembler = self.dialect.assembler(status=status_code, single_choice=self._single_choice)
        self._reader = choose_reader(
            status_code,
            content_type,
            self._assembler,
            max_event_size=self.config.max_event_size,
            max_body_size=self.config.max_body_size,
        )

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Buffer response body bytes; ``b""`` means EOF (repeating it is harmless)."""
        if type(data) is not bytes and not isinstance(data, bytes | bytearray | memoryview):
            raise LocalProtocolError(f"receive_data() takes bytes (b'' at EOF), not {type(data).__name__}")
        reader = self._reader
        if reader is None:
            self._check_usable()
            raise LocalProtocolError(f"receive_data() before receive_head() (server state {self.their_state.value})")
        if self._eof:
            if data:
                raise LocalProtocolError("receive_data() with data after EOF")
            return
        if not data:
            self._eof = True
        self._fresh = True
        if self._error is not None:
            return  # the body is already known to be bad: drop the rest rather than buffer it
        try:
            reader.feed(data)
        except LocalProtocolError as exc:
            # Too much data: it is the server's fault, reported from next_event() in order.
            self._error = exc._reraise_as_remote_protocol_error()

    def next_event(self) -> Event | NeedData | Paused:
        """The next event, ``NEED_DATA`` or ``PAUSED``. Raises ``RemoteProtocolError`` (after
        every good event before the fault) when the server broke the protocol."""
        events = self._events
        if events:
            event = events.popleft()
            if type(event) is MessageComplete:
                self._cstate.process_input(_MESSAGE_COMPLETE)
            return event
        if not self._fresh:
            # Nothing new to parse, in a body being read (before the first bytes, after a
            # read's events): what _read_more would answer, without its call.
            cstate = self._cstate
            server = cstate.server
            reader = self._reader
            if (
                (server is _SEND_BODY or server is _MESSAGE_DONE)
                and cstate.client is not _ERROR
                and self._error is None
                and reader is not None
            ):
                if server is _MESSAGE_DONE and reader.at_eof:
                    cstate.process_input(_END_OF_BODY)
                    return PAUSED
                return NEED_DATA
        signal = self._read_more()
        if signal is not None:
            return signal
        event = events.popleft()
        if type(event) is MessageComplete:
            self._cstate.process_input(_MESSAGE_COMPLETE)
        return event

    def _read_more(self) -> NeedData | Paused | None:
        """Let the reader parse what is buffered: None when events were queued, otherwise the
        signal to return."""
        cstate = self._cstate
        server = cstate.server
        if server is _ERROR or cstate.client is _ERROR:
            self._reader = None
            if self._error is not None:
                raise self._error
            raise LocalProtocolError(
                "can't receive: the connection is in state ERROR after a misuse; use a new Connection"
            )
        if self._error is not None:
            self._fail()
        if server is _DONE:
            return PAUSED
        reader = self._reader
        if reader is None:
            raise LocalProtocolError(f"next_event() before a response head (server state {server.value})")
        if self._fresh:
            # A reader parses everything buffered each time it runs, so it only needs to run
            # when bytes arrived since.
            self._fresh = False
            batch = self._batch
            try:
                reader.read(batch)
            except LocalProtocolError as exc:
                self._error = exc._reraise_as_remote_protocol_error()
            except RecursionError:
                self._error = RemoteProtocolError(
                    "the response nests JSON too deeply to process",
                    hint="a server or model is emitting runaway nesting",
                )
            if batch:
                self._events.extend(batch)
                batch.clear()
                return None
            if self._error is not None:
                self._fail()
        if server is _MESSAGE_DONE and reader.at_eof:
            self._cstate.process_input(_END_OF_BODY)
            return PAUSED
        return NEED_DATA

    def _fail(self) -> NoReturn:
        assert self._error is not None
        self._enter_error(Side.SERVER)
        raise self._error

    def _enter_error(self, side: Side) -> None:
        """``side`` failed: it goes to ERROR for good, and nothing more is read or delivered."""
        self._cstate.process_error(side)
        self._reader = None
        self._events.clear()

    def partial_message(self) -> AssistantMessage | None:
        """What the current response had delivered when it broke off (a protocol error, a
        dropped connection): choice 0's text, reasoning and tool calls, as a message. None
        before a response head. Call it only when giving up on the response: it closes the
        tool calls in flight (one whose arguments were cut off becomes a ``ToolUseError``)."""
        return None if self._assembler is None else self._assembler.partial()

    def start_next_cycle(self) -> None:
        """After ``PAUSED``: reset for the next request."""
        self._check_usable()
        self._process(_START_NEXT_CYCLE)
        self._reader = None
        self._assembler = None
        self._eof = False
        self._fresh = False
        self.request = None
        self.status_code = None

    def _process(self, inp: Input) -> None:
        """Apply a table input; a refused one leaves a side in ERROR and the body unreadable."""
        try:
            self._cstate.process_input(inp)
        except LocalProtocolError:
            self._reader = None  # the side that refused is in ERROR already
            self._events.clear()
            raise

    def _check_usable(self) -> None:
        cstate = self._cstate
        if cstate.client is _ERROR:
            raise LocalProtocolError("the connection is in state ERROR (a send failed); use a new Connection")
        if cstate.server is _ERROR:
            raise LocalProtocolError("the connection is in state ERROR (a protocol error); use a new Connection")
