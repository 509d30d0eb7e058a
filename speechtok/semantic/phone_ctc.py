"""Moved to :mod:`speechtok.teachers.phone_ctc`; this module is kept for old imports and for
``python -m speechtok.semantic.phone_ctc``.

It re-exports every name of the new module (the same objects); new code imports the new path
(see docs/architecture.md).
"""

from ..teachers import phone_ctc as _moved

globals().update({k: v for k, v in vars(_moved).items() if not k.startswith("__")})

if __name__ == "__main__":
    raise SystemExit(_moved.main())
