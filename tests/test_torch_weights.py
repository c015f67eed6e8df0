"""server/intelligence/speaker_weights.py reads a `torch.save` state dict without torch (CAM++'s weights).

The checkpoint here is written the way torch writes one (zip: `<name>/data.pkl` whose tensors are
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` calls on persistent storages, and
`<name>/data/<key>` with each storage's raw bytes), by a pickler that needs no torch either.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from server.intelligence.speaker_weights import load_state_dict


class FloatStorage:
    """Pickled by reference, then renamed to `torch.FloatStorage` (see `_write`)."""


class LongStorage:
    """Likewise `torch.LongStorage`."""


class _Storage:
    def __init__(self, key: str, kind: type, numel: int) -> None:
        self.key, self.kind, self.numel = key, kind, numel


class _Tensor:
    def __init__(
        self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]
    ) -> None:
        self.args = (storage, offset, size, stride, False, OrderedDict())


class _TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj: object):  # noqa: ANN201
        if isinstance(obj, _Storage):
            return ("storage", obj.kind, obj.key, "cpu", obj.numel)
        return None

    def reducer_override(self, obj: object):  # noqa: ANN201
        if isinstance(obj, _Tensor):
            return _rebuild, obj.args
        return NotImplemented


def _rebuild() -> None:  # pragma: no cover - only its pickled name matters
    raise AssertionError


def _write(path: Path, tensors: dict[str, tuple[np.ndarray, _Tensor]], storages: dict[str, bytes]) -> None:
    buf = io.BytesIO()
    _TorchLikePickler(buf, protocol=2).dump(OrderedDict((k, t) for k, (_, t) in tensors.items()))
    data = buf.getvalue()
    # the stand-ins pickle under this module's names; rename them to the ones torch writes
    renames = (
        ("_rebuild", "torch._utils\n_rebuild_tensor_v2"),
        ("FloatStorage", "torch\nFloatStorage"),
        ("LongStorage", "torch\nLongStorage"),
    )
    for ours, torchs in renames:
        data = data.replace(f"{__name__}\n{ours}\n".encode(), f"{torchs}\n".encode())
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("model/data.pkl", data)
        for key, raw in storages.items():
            z.writestr(f"model/data/{key}", raw)


def test_reads_tensors_with_offsets_and_strides(tmp_path: Path) -> None:
    weight = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    steps = np.array([7, 8, 9], dtype=np.int64)
    shared = _Storage("0", FloatStorage, 24 + 6)
    raw = np.concatenate([weight.ravel(), np.arange(6, dtype=np.float32) + 100]).tobytes()
    tensors = {
        "conv.weight": (weight, _Tensor(shared, 0, (2, 3, 4), (12, 4, 1))),
        # a transposed view into the same storage, after the weight
        "proj.weight": (
            np.arange(6, dtype=np.float32).reshape(2, 3).T + 100,
            _Tensor(shared, 24, (3, 2), (1, 3)),
        ),
        "bn.num_batches_tracked": (np.int64(5), _Tensor(_Storage("1", LongStorage, 1), 0, (), ())),
        "steps": (steps, _Tensor(_Storage("2", LongStorage, 3), 0, (3,), (1,))),
    }
    storages = {"0": raw, "1": np.array([5], dtype=np.int64).tobytes(), "2": steps.tobytes()}
    path = tmp_path / "model.pt"
    try:
        _write(path, tensors, storages)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:  # pragma: no cover
        pytest.skip(f"this Python's pickler cannot write the torch layout: {exc}")
    state = load_state_dict(path)
    assert list(state) == list(tensors)
    for name, (expected, _) in tensors.items():
        assert state[name].dtype == np.asarray(expected).dtype, name
        assert np.array_equal(state[name], expected), name


def test_refuses_what_a_state_dict_never_holds(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x/data.pkl", pickle.dumps({"a": FloatStorage()}))
    with pytest.raises(pickle.UnpicklingError):
        load_state_dict(path)
