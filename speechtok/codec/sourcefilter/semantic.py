"""Moved to :mod:`speechtok.codec.sourcefilter.phonetic_stage`; this module is kept for old imports.

It re-exports every name of the new module (the same objects); new code imports the new path
(see docs/architecture.md).
"""

from . import phonetic_stage as _moved

globals().update({k: v for k, v in vars(_moved).items() if not k.startswith("__")})

from .teacher import TEACHER_RATE, EmbeddedPhoneTeacher, teacher_posteriors  # noqa: E402,F401  (lived here once)

PhoneTeacher = EmbeddedPhoneTeacher  # its old name
