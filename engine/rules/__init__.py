"""Rule files: the model, the YAML loader with line marks, and validation."""
from __future__ import annotations

from .model import *  # noqa: F401,F403
