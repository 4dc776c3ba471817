"""Noise-DA Studio's desktop application (PySide6).

Importing this package is cheap: no torch and no Qt until a submodule is used.
"""

from __future__ import annotations

APP_NAME = "Noise-DA Studio"
ORG_NAME = "NoiseDA"
