"""Dictation's `llm_instruction` (docs/compatibility.md#dictation-api): the transcript rewritten by an
OpenAI-compatible chat endpoint the operator configures (llama.cpp's `llama-server`, Ollama's `/v1`, vLLM
...).

With none configured the rewrite is not made up: `llm_response` stays null and `llm_error` says why. The mock
engine can script one instead (`LOCALSCRIBE_MOCK_REWRITE`), so test suites get a deterministic answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from server import errors
from server.config import Settings

SYSTEM_PROMPT = (
    "You rewrite dictated text. Follow the user's instruction and answer with the rewritten text only, "
    "without any preamble or commentary."
)


@dataclass
class Rewrite:
    text: str | None
    error: str | None


async def rewrite(transcript: str, instruction: str, mode: str | None, settings: Settings) -> Rewrite:
    if settings.engine == "mock" and settings.mock_rewrite is not None:
        return Rewrite(settings.mock_rewrite.format(text=transcript, instruction=instruction), None)
    if not settings.llm_base_url:
        return Rewrite(None, errors.LLM_NOT_CONFIGURED)
    body = {
        "model": settings.llm_model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Instruction: {instruction}\n\nText:\n{transcript}"},
        ],
        "temperature": 0 if mode != "smart" else 0.2,
        "stream": False,
    }
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    url = settings.llm_base_url.rstrip("/") + "/chat/completions"
    try:
        async with httpx.AsyncClient(timeout=settings.llm_timeout_s) as client:
            response = await client.post(url, json=body, headers=headers)
        if response.status_code != 200:
            return Rewrite(
                None, errors.LLM_FAILED.format(problem=f"the endpoint answered {response.status_code}")
            )
        content = response.json()["choices"][0]["message"]["content"]
    except httpx.HTTPError as exc:
        return Rewrite(None, errors.LLM_FAILED.format(problem=f"{type(exc).__name__}: {exc}"))
    except (ValueError, KeyError, IndexError, TypeError):
        return Rewrite(
            None, errors.LLM_FAILED.format(problem="the endpoint's answer is not a chat completion")
        )
    if not isinstance(content, str):
        return Rewrite(None, errors.LLM_FAILED.format(problem="the endpoint's answer has no text"))
    return Rewrite(content.strip(), None)
