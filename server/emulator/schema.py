"""The fault-rule schema (docs/faults.md): what `POST /admin/faults` and the faults file accept.

Every rule has one effect; its `match` names the conditions a request, job or stream must meet.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from server import errors
from server.emulator.payloads import validated

SOURCES = ("api", "file")
JOB_KINDS = ("hold", "delay", "error")  # stamped on a transcript when it is created


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HeaderMatch(_Strict):
    name: str = Field(min_length=1)
    value: str | None = None  # None: the header being present is enough


class Match(_Strict):
    account_id: str | None = None
    audio_url: str | None = None  # shell glob over the whole URL (fnmatch: `*` also crosses `/`)
    audio_url_regex: str | None = None  # Python regular expression, searched anywhere in the URL
    header: HeaderMatch | None = None
    path: str | None = None  # shell glob over the request path; `http` rules only

    @field_validator("audio_url_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_url_form(self) -> Match:
        if self.audio_url is not None and self.audio_url_regex is not None:
            raise ValueError("give audio_url (glob) or audio_url_regex, not both")
        return self


class ErrorEffect(_Strict):
    type: Literal["error"]
    message: str = errors.SERVER_ERROR


class HoldEffect(_Strict):
    type: Literal["hold"]
    seconds: float = Field(gt=0)


class DelayEffect(_Strict):
    type: Literal["delay"]
    seconds: float = Field(gt=0)


class HttpEffect(_Strict):
    type: Literal["http"]
    status: Literal[429, 500]
    fraction: float = Field(default=1.0, ge=0, le=1)
    message: str | None = None  # default: the API's own text for the status
    retry_after_s: int = Field(default=1, ge=0)  # sent with 429 (docs/compatibility.md#http-errors)


class CloseEffect(_Strict):
    type: Literal["close"]
    code: int = Field(ge=1000, le=4999)
    reason: str = Field(default="", max_length=123)  # RFC 6455 caps close reasons at 123 bytes
    after_s: float = Field(default=0.0, ge=0)


Effect = Annotated[
    ErrorEffect | HoldEffect | DelayEffect | HttpEffect | CloseEffect, Field(discriminator="type")
]


class RuleSpec(_Strict):
    name: str | None = Field(default=None, max_length=200)
    match: Match = Field(default_factory=Match)
    effect: Effect
    times: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _fits_effect(self) -> RuleSpec:
        kind = self.effect.type
        if self.match.path is not None and kind != "http":
            raise ValueError("match.path applies to http effects only")
        if kind == "close" and (self.match.audio_url or self.match.audio_url_regex):
            raise ValueError("a stream has no audio URL: close effects cannot match on it")
        return self


def parse_rule(data: Any) -> RuleSpec:
    return validated(RuleSpec, data)
