"""The web UI's built files (``static/``): made from ``web/`` by Vite, shipped in the package."""

from pathlib import Path

STATIC = Path(__file__).parent / "static"
