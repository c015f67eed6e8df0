"""The one sample rate every decoded signal has: 16 kHz mono float32, what whisper and Silero VAD take."""

SAMPLE_RATE = 16_000
