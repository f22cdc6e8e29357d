"""The web UI's built files (``static/``), produced from ``web/`` by Vite and shipped in the package."""

from pathlib import Path

STATIC = Path(__file__).parent / "static"
