"""Names the job, the queue and the API share about a job's stored result (no logic, no imports)."""

# Where the result keeps the redacted audio's file name (not a Transcript key: never rendered).
REDACTED_AUDIO_FILE = "redacted_audio_file"
# Where the redacted audio is downloaded from, under the server's base URL
# (docs/compatibility.md#redacted-audio, #webhooks).
REDACTED_AUDIO_PATH = "/v2/transcript/{transcript_id}/redacted-audio/{file_name}"
# Where a replayed job keeps the recorded exports, served as they were (docs/testing.md#record-and-replay).
RECORDED_EXPORTS = "recorded_exports"
