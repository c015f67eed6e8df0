"""Every WebSocket close code and reason LocalScribe sends, as data (docs/compatibility.md#v2-close-codes for
v2, docs/compatibility.md#v3-close-codes for v3).

Reasons are sent as written here; RFC 6455 caps a reason at 123 bytes, so `truncate` trims longer ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Close:
    code: int
    reason: str

    def format(self, **values: object) -> Close:
        return Close(self.code, self.reason.format(**values))


PAID_ONLY = (
    "This feature is paid-only and requires you to add a credit card. "
    "Please visit https://app.assemblyai.com/ to add a credit card to your account"
)

# --- v2, /v2/realtime/ws -------------------------------------------------------------------------------
V2_NORMAL = Close(1000, "")
V2_BAD_SAMPLE_RATE = Close(4000, "Sample rate must be a positive integer")
# CHOICE: no code is documented for an unknown encoding; 4000 is the "bad audio parameters" family.
V2_BAD_ENCODING = Close(4000, "Encoding must be pcm_s16le or pcm_mulaw")
V2_NOT_AUTHORIZED = Close(4001, "Not Authorized")
V2_PAID_ONLY = Close(4003, "This feature is paid-only and requires you to add a credit card.")  # + full text
V2_SESSION_EXPIRED = Close(4008, "Session Expired")
V2_TOO_FAST = Close(4029, "Client sent audio too fast")
V2_IDLE = Close(4031, "Session idle for too long")
V2_AUDIO_TOO_SHORT = Close(4032, "Audio duration is too short")
V2_AUDIO_TOO_LONG = Close(4033, "Audio duration is too long")
V2_BAD_JSON = Close(4100, "Endpoint received invalid JSON")
V2_BAD_SCHEMA = Close(4101, "Endpoint received a message with an invalid schema")
V2_TOO_MANY_STREAMS = Close(4102, "This account has exceeded the number of allowed streams")
V2_BAD_WORD_BOOST = Close(4104, "Could not parse word boost parameter")
V2_SERVER_ERROR = Close(1011, "Internal server error")

V2_CHUNK_MS = (100, 2000)  # audio per message (docs/compatibility.md#v2-audio)

# --- v3, /v3/ws ----------------------------------------------------------------------------------------
V3_NORMAL = Close(1000, "")
V3_MISSING_AUTH = Close(1008, "Unauthorized Connection: Missing Authorization header")
V3_INVALID_AUTH = Close(1008, "Unauthorized Connection: Invalid API key or token")
V3_PAID_ONLY = Close(
    1008, "Unauthorized Connection: This feature is paid-only and requires you to add a credit card."
)
V3_SERVER_ERROR = Close(3005, "Session Cancelled: An error occurred")
V3_INVALID_TYPE = Close(3006, "Invalid Message Type: {message}")
V3_INVALID_JSON = Close(3006, "Invalid JSON: {message}")
V3_INVALID_MESSAGE = Close(3006, "Invalid Message: {message}")
V3_CHUNK_DURATION = Close(3007, "Input duration violation: {ms} ms. Expected between 50 and 1000 ms")
V3_TOO_FAST = Close(
    3007, "Audio Transmission Rate Exceeded: Received {audio:.1f} sec. audio in {wall:.1f} sec"
)
V3_SESSION_EXPIRED = Close(3008, "Session Expired: Maximum session duration exceeded")
V3_TOO_MANY_STREAMS = Close(3009, "Unauthorized Connection: Too many concurrent sessions")
# record and replay mode only (docs/testing.md#streaming-sessions-v3): a miss, other audio, a bad file
V3_RECORDING = Close(3005, "{message}")

V3_CHUNK_MS = (50, 1000)

MAX_REASON_BYTES = 123
# v3: a reason that does not fit is in the Error frame before the close (docs/compatibility.md#v3-close-codes)
V3_SEE_ERROR_MESSAGE = "See Error message for details"


def truncate(reason: str) -> str:
    data = reason.encode()
    if len(data) <= MAX_REASON_BYTES:
        return reason
    return data[:MAX_REASON_BYTES].decode(errors="ignore")
