"""Lower the calling thread's scheduling priority: background work yields the CPU to live work."""

from __future__ import annotations

import os
import threading


def lower_this_thread(nice: int) -> None:
    """Give the calling thread (Linux: only it, not the process) this `nice`. Threads and processes it starts
    later inherit it, which is how CTranslate2's, onnxruntime's and ffmpeg's workers end up niced too."""
    if nice > 0 and hasattr(os, "setpriority"):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
