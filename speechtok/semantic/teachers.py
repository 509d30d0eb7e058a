"""Moved to :mod:`speechtok.teachers.frame_targets`; this module is kept for old imports.

It re-exports every name of the new module (the same objects); new code imports the new path
(see docs/architecture.md).
"""

from ..teachers import frame_targets as _moved

globals().update({k: v for k, v in vars(_moved).items() if not k.startswith("__")})

PhoneTeacher = _moved.AlignedPhoneTeacher  # its old name
