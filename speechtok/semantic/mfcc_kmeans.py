"""Moved to :mod:`speechtok.tokenizers.mfcc_kmeans`; this module is kept for old imports and for
``python -m speechtok.semantic.mfcc_kmeans``.

It re-exports every name of the new module (the same objects); new code imports the new path
(see docs/architecture.md).
"""

from ..tokenizers import mfcc_kmeans as _moved

globals().update({k: v for k, v in vars(_moved).items() if not k.startswith("__")})

if __name__ == "__main__":
    raise SystemExit(_moved.main())
