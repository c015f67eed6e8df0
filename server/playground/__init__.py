"""The web playground served at `/` (LOCALSCRIBE_PLAYGROUND=false turns it off); see docs/playground.md.

`static/` holds the page: plain ES modules and CSS, no build step and nothing fetched from elsewhere.
`status.py` answers the few questions the public API cannot: queue positions, timings, limits in use.
"""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
