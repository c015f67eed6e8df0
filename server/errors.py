"""Every error string the API speaks, as data, with where each is described (docs/compatibility.md anchors).

REST errors travel as `ApiError(status, message)`; the API layer turns them into `{"error": message}`.
Job errors (status "error" on the transcript) are plain strings built from the templates below.
"""

from __future__ import annotations


class ApiError(Exception):
    """An HTTP error with the API's exact JSON body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


# --- REST (docs/compatibility.md#http-errors) ---------------------------------------------------------------
AUTH_INVALID = "Authentication error, API token missing/invalid"
NOT_FOUND = "Not found"
TRANSCRIPT_NOT_FOUND = "Transcript lookup error, transcript id not found"
SERVER_ERROR = "Server error, developers have been alerted."
TOO_MANY_REQUESTS = "Too Many Requests"
CANNOT_ACCESS_UPLOAD = "Cannot access uploaded file"
AUDIO_URL_NOT_HTTP = "Transcript creation error, audio_url should start with http"
INVALID_JSON = "Request body must be valid JSON"
# CHOICE (issue 14): a JSON body over LOCALSCRIBE_MAX_JSON_BODY_BYTES is refused before it is read
BODY_TOO_LARGE = "Request body too large, the maximum is {limit} bytes"
UPLOAD_EMPTY = "Upload error, the request body is empty"
UPLOAD_TOO_LARGE = "Upload error, the file exceeds the maximum upload size of {limit} bytes"
SPEECH_MODEL_DEPRECATED = (
    'speech_model is deprecated. Use "speech_models" instead. See documentation: '
    "https://www.assemblyai.com/docs/pre-recorded-audio/select-the-speech-model"
)
SPEECH_MODELS_UNSUPPORTED = "The following speech models are not supported: {names}"
LIST_BOUNDS_INVERTED = "'after_id' must be a newer transcript than 'before_id'"
ADDONS_NOT_AVAILABLE = "The following addons are not available in this language: {names}"
INVALID_LANGUAGE_CODE = "Invalid language_code: {code}"
# word search bounds (docs/compatibility.md#exports CHOICE: the docs give phrases of up to five words, no
# count or wording)
WORD_SEARCH_TOO_MANY_TERMS = "words must contain at most {limit} terms"
WORD_SEARCH_TERM_TOO_LONG = "each term in words must be at most {words} words and {chars} characters"
WORD_BOOST_UNSUPPORTED = "'{term}' was included in the word boost list but contains unsupported characters"

# temporary streaming tokens (docs/compatibility.md#tokens CHOICE: the docs give ranges, not wordings)
TOKEN_EXPIRES_IN = "expires_in must be between 60 and 360000"
TOKEN_EXPIRES_IN_SECONDS = "expires_in_seconds must be between 1 and 600"
TOKEN_MAX_SESSION = "max_session_duration_seconds must be between 60 and 10800"

# validation wording family (docs/compatibility.md#http-errors CHOICE)
MUST_BE_TYPE = "{param} must be {article} {type}"
MUST_BE_BETWEEN = "{param} must be between {min} and {max}"
MUST_BE_AT_LEAST = "{param} must be at least {min}"
MUST_BE_URL = "{param} must be a valid URL"
MUST_BE_ONE_OF = "{param} must be one of: {values}"
MUST_BE_VALID_ID = "{param} must be a valid transcript id"
MUST_BE_DATE = "{param} must be a date in the format YYYY-MM-DD"
# hostile JSON values (server/api/json_values.py; CHOICE: the API documents none of these)
JSON_NUMBER_TOO_LARGE = "{param} is out of range"
JSON_NUL_CHARACTER = "{param} must not contain NUL characters"

# mutually exclusive / dependent options (docs/compatibility.md#option-rules)
ONLY_ONE_OF = "Only one of the following models can be enabled at a time: auto_chapters, summarization"
PROMPT_AND_KEYTERMS = "prompt and keyterms_prompt cannot be used in the same request"
SUMMARY_TOGETHER = "summary_model and summary_type must be specified together"
SUMMARY_PAIR = "summary_type {type} is not supported by summary_model {model}"
SUMMARY_NEEDS_FORMAT = "punctuate and format_text must be enabled when {feature} is enabled"
PII_NEEDS_POLICY = "redact_pii_policies must contain at least one policy when redact_pii is enabled"
PII_AUDIO_NEEDS_PII = "redact_pii must be enabled to use redact_pii_audio"
SPEAKERS_MIN_MAX = "max_speakers_expected must be greater than or equal to min_speakers_expected"
LANGUAGE_CODES_NEED_EN = "language_codes must include en"
AUDIO_END_BEFORE_START = "audio_end_at must be greater than audio_start_from"
# OA `speech_understanding.request` is a oneOf of the three task bodies
SPEECH_UNDERSTANDING_ONE_TASK = (
    "speech_understanding.request must contain exactly one of: translation, speaker_identification, "
    "custom_formatting"
)

# transcript state (docs/compatibility.md#delete, #exports, #redacted-audio)
STILL_PROCESSING = "Transcript is still processing and cannot be deleted"
NOT_COMPLETED = "Transcript is not completed. Current status: {status}"
REDACTED_AUDIO_UNAVAILABLE = "Redacted audio is not available for this transcript"

# --- emulator controls: /admin and injected faults (docs/faults.md; not part of the AssemblyAI API) -----
ADMIN_AUTH_INVALID = "Admin authentication error, LOCALSCRIBE_ADMIN_TOKEN missing/invalid"
ACCOUNT_NOT_FOUND = "Account not found: {id}"
KEY_NOT_FOUND = "API key not found: {id}"
FAULT_NOT_FOUND = "Fault rule not found: {id}"
SCRIPT_NOT_FOUND = "Script not found: {id}"
# replay mode found no recording for a job (docs/testing.md#record-and-replay CHOICE)
RECORDING_MISSING = (
    "No recording for this audio (sha256 {sha256}) and these parameters (key {key}) in {folder}; record it "
    "with LOCALSCRIBE_RECORDINGS_MODE=record, or set LOCALSCRIBE_REPLAY_MISS=engine"
)
RECORDING_INVALID = "Recording {path}: {problem}"
STREAM_RECORDING_MISSING = (
    "No recording for this stream (first second of audio sha256 {sha256}) and these parameters (key {key}) "
    "in {folder}; record it with LOCALSCRIBE_RECORDINGS_MODE=record, or set LOCALSCRIBE_REPLAY_MISS=engine"
)
STREAM_RECORDING_DIFFERS = "This stream's audio is not the audio of recording {path}: {problem}"
RECORDING_UPSTREAM = "Recording failed: the upstream server answered {problem}"
KEY_EXISTS = "That API key is already in use"
INVALID_ADMIN_FIELD = "{field}: {problem}"
FAULTS_FILE_INVALID = "Faults file {path}: {problem}"

# --- processing errors, shown on the transcript (docs/compatibility.md#processing-errors) -------------------
DOWNLOAD_UNREACHABLE = (
    "Download error, unable to download {url}. "
    "Please make sure the file exists and is accessible from the internet."
)
DOWNLOAD_HTTP = "Download error to {url}, {code} {kind} Error: {reason} for url: {url}"
DOWNLOAD_TOO_LARGE = "File size exceeds the maximum of 5GB"
NOT_AUDIO = "File does not appear to contain audio. File type is {mime} ({description})."
TRANSCODING_FAILED = "Transcoding failed. " + NOT_AUDIO
AUDIO_TOO_SHORT = "Audio duration is too short."
AUDIO_TOO_LONG = "Audio duration exceeds the maximum of 10 hours"
LANGUAGE_BELOW_THRESHOLD = (
    "detected language '{code}', confidence {confidence:.4f}, is below the requested confidence threshold "
    "value of '{threshold}'"
)
SPEECH_BELOW_THRESHOLD = (
    "Audio speech threshold {fraction:.4f} is below the requested speech threshold value {threshold}"
)
MODEL_CANNOT_SERVE_LANGUAGE = (
    "The speech model {model} cannot transcribe language '{code}'; add a multilingual model to speech_models"
)


def must_be_type(param: str, type_name: str) -> str:
    article = "an" if type_name[0] in "AEIOU" else "a"
    return MUST_BE_TYPE.format(param=param, article=article, type=type_name)


# --- Sync and Dictation APIs: RFC 9457 problem details (docs/compatibility.md#sync-api, #dictation-api) -----
# The SDKs turn `title` into `error_code` (snake case), so titles are part of the contract; details are ours.
class Problem(Exception):
    """A Sync/Dictation error: `{"status", "title", "detail"}`, sent as application/problem+json."""

    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}


SYNC_UNAUTHORIZED = (401, "Unauthorized", AUTH_INVALID)
SYNC_MODEL_HEADER_MISSING = (400, "Bad Request", "X-AAI-Model header is required")
SYNC_UNKNOWN_MODEL = (400, "Unknown Model", "Unknown model '{name}'. Known models: {known}")
SYNC_NOT_MULTIPART = (400, "Malformed Multipart", "The body must be multipart/form-data with a boundary")
SYNC_BAD_MULTIPART = (400, "Malformed Multipart", "The multipart body could not be parsed: {problem}")
SYNC_AUDIO_BEFORE_CONFIG = (400, "Malformed Multipart", "The config part must come before the audio part")
SYNC_NO_AUDIO = (400, "Malformed Multipart", "The body has no audio part")
SYNC_INVALID_CONFIG = (400, "Invalid Config", "{problem}")
SYNC_BAD_AUDIO = (400, "Bad Audio", "{problem}")
SYNC_TOO_SHORT = (400, "Audio Too Short", "Audio is {ms} ms long; the minimum is {min_ms} ms")
SYNC_TOO_LONG = (400, "Audio Too Long", "Audio exceeds the maximum of {max_s} seconds")
SYNC_TOO_LARGE = (413, "Audio Too Large", "The request body exceeds the maximum of {limit} bytes")
SYNC_STALLED = (408, "Request Timeout", "No audio arrived for {seconds} seconds; the upload was abandoned")
SYNC_CAPACITY = (429, "Capacity Exceeded", "This node is transcribing {limit} requests; retry shortly")
SYNC_INFERENCE_FAILED = (500, "Inference Failed", "{problem}")
SYNC_THROTTLED = (429, "Too Many Requests", TOO_MANY_REQUESTS)
SYNC_SERVER_ERROR = (500, "Internal Server Error", SERVER_ERROR)
# Dictation only (docs/compatibility.md#dictation-api): the rewrite ran nowhere or failed; the transcript
# still comes back
LLM_NOT_CONFIGURED = (
    "llm_instruction was not run: no LLM endpoint is configured on this server (LOCALSCRIBE_LLM_BASE_URL)"
)
LLM_FAILED = "llm_instruction failed: {problem}"


def problem(entry: tuple[int, str, str], headers: dict[str, str] | None = None, **values: object) -> Problem:
    status, title, detail = entry
    return Problem(status, title, detail.format(**values) if values else detail, headers)
