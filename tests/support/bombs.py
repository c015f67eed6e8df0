"""Hostile audio for abuse tests and benchmarks: hours of silent FLAC in kilobytes, headers that lie.

The FLAC is written by hand: frames of 65535 samples, each one CONSTANT subframe (about 15 bytes), so
an hour of 16 kHz silence is about 13 kB and decodes to 230 MB of float32.
"""

from __future__ import annotations

from pathlib import Path

_BLOCK = 65535  # FLAC's largest block size


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _utf8_number(n: int) -> bytes:
    """FLAC's frame number coding (UTF-8 extended to 36 bits)."""
    if n < 0x80:
        return bytes([n])
    for length, first_bits in ((2, 5), (3, 4), (4, 3), (5, 2), (6, 1)):
        if n < 1 << (first_bits + 6 * (length - 1)):
            out = []
            for _ in range(length - 1):
                out.append(0x80 | (n & 0x3F))
                n >>= 6
            lead = (0xFF << (8 - length)) & 0xFF
            return bytes([lead | n, *reversed(out)])
    raise ValueError("frame number too large")


def _frame(index: int, size: int) -> bytes:
    header = bytes([0xFF, 0xF8, 0x70, 0x08]) + _utf8_number(index) + (size - 1).to_bytes(2, "big")
    header += bytes([_crc8(header)])
    body = header + b"\x00\x00\x00"  # CONSTANT subframe, value 0 (16-bit)
    return body + _crc16(body).to_bytes(2, "big")


def silent_flac(path: Path, seconds: float, *, rate: int = 16_000) -> Path:
    """`seconds` of digital silence, mono 16-bit at `rate`, honest header."""
    total = int(seconds * rate)
    info = (
        _BLOCK.to_bytes(2, "big")
        + _BLOCK.to_bytes(2, "big")
        + b"\x00" * 6  # min/max frame size unknown
        + ((rate << 44) | (0 << 41) | (15 << 36) | total).to_bytes(8, "big")
        + b"\x00" * 16  # no MD5
    )
    frames = []
    for index, start in enumerate(range(0, total, _BLOCK)):
        frames.append(_frame(index, min(_BLOCK, total - start)))
    path.write_bytes(b"fLaC" + bytes([0x80, 0, 0, len(info)]) + info + b"".join(frames))
    return path


def claim_total_samples(path: Path, total: int) -> Path:
    """Rewrite the FLAC STREAMINFO's 36-bit total-sample count (the header's duration), nothing else."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0, "STREAMINFO must be the first metadata block"
    at = 8 + 13  # STREAMINFO starts after the 4-byte marker and 4-byte block header; the count at bit 108
    value = (data[at] & 0xF0) << 32 | (total & 0xF_FFFF_FFFF)
    data[at : at + 5] = value.to_bytes(5, "big")
    path.write_bytes(bytes(data))
    return path
