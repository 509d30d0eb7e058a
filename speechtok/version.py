"""The version of speechtok (also in pyproject.toml); a leaf, so any layer may read it."""

__version__ = "0.1.0"
