"""Moved to server/intelligence/speaker_campplus.py (the server's speaker embedder since issue 16)."""

from server.intelligence.speaker_campplus import CamPlus, WindowEmbedder, build_model, fbank, weights_path

__all__ = ["CamPlus", "WindowEmbedder", "build_model", "fbank", "weights_path"]
