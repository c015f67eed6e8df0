"""Media files in, float32 samples out (and back), with PyAV only: no ffmpeg binary, no HTTP, no SQL.

Import from the modules (`server.media.decode.decode`, `server.media.probe.probe`, ...): re-exporting the
functions here would shadow the submodules of the same name.
"""
