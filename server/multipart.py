"""A `multipart/form-data` body read as it arrives (python-multipart's streaming parser), as typed events.

The Sync and Dictation SDKs send the `config` part first and then the audio as the caller records it, so the
parts must be handled before the body ends (docs/compatibility.md#sync-api). A shared leaf: the Sync APIs
(server/sync/transcribe.py) and the request journal (server/emulator/journal.py) both read bodies with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from server import errors


@dataclass
class PartStart:
    name: str
    filename: str | None
    content_type: str  # lower case, parameters dropped; "" when absent


@dataclass
class PartData:
    data: bytes


@dataclass
class PartEnd:
    pass


@dataclass
class BodyEnd:
    pass


Event = PartStart | PartData | PartEnd | BodyEnd


def boundary_of(content_type: str | None) -> bytes:
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise errors.problem(errors.SYNC_NOT_MULTIPART)
    return boundary


@dataclass
class MultipartEvents:
    """Feed body bytes; get back what they completed."""

    boundary: bytes
    _events: list[Event] = field(default_factory=list)
    _headers: dict[str, str] = field(default_factory=dict)
    _field: bytearray = field(default_factory=bytearray)
    _value: bytearray = field(default_factory=bytearray)
    ended: bool = False

    def __post_init__(self) -> None:
        self.parser = MultipartParser(
            self.boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": lambda d, s, e: self._field.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._value.extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done,
                "on_part_data": lambda d, s, e: self._events.append(PartData(bytes(d[s:e]))),
                "on_part_end": lambda: self._events.append(PartEnd()),
                "on_end": self._end,
            },
        )

    def feed(self, data: bytes) -> list[Event]:
        try:
            self.parser.write(data)
        except MultipartParseError as exc:
            raise errors.problem(errors.SYNC_BAD_MULTIPART, problem=str(exc) or "invalid framing") from None
        events, self._events = self._events, []
        return events

    def _begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[self._field.decode("latin-1").strip().lower()] = self._value.decode("latin-1").strip()
        self._field.clear()
        self._value.clear()

    def _headers_done(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        kind, _ = parse_options_header(self._headers.get("content-type", ""))
        filename = params.get(b"filename")
        self._events.append(
            PartStart(
                name=params.get(b"name", b"").decode("utf-8", "replace"),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=kind.decode("latin-1").lower(),
            )
        )

    def _end(self) -> None:
        self.ended = True
        self._events.append(BodyEnd())
