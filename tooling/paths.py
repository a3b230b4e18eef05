"""Where the project is: the tooling runs from a checkout, next to the program it inspects."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
