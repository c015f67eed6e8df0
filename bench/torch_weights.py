"""Moved to server/intelligence/speaker_weights.py (the server reads CAM++'s weights with it, issue 16)."""

from server.intelligence.speaker_weights import load_state_dict

__all__ = ["load_state_dict"]
