"""Moved to :mod:`speechtok.eval.phone_probe`; this module is kept for old imports.

It re-exports every name of the new module (the same objects); new code imports the new path
(see docs/architecture.md).
"""

from ..eval import phone_probe as _moved

globals().update({k: v for k, v in vars(_moved).items() if not k.startswith("__")})
