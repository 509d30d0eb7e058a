"""Teachers: models and label sources that give frame-level targets for the codecs' semantic
objectives and the measures.

- :mod:`.phone_ctc`: ``PhoneCTC``, the small phone recognizer (CTC) shipped in
  ``speechtok/assets/phone_ctc`` and its training command (``python -m speechtok.teachers.phone_ctc``);
- :mod:`.frame_targets`: the ``Teacher`` interface (audio -> targets at a codec's frame rate) and
  its teachers: ``AlignedPhoneTeacher`` (forced-aligned phones), ``HFTeacher``, ``HFTextTeacher``,
  ``PhoneCTCTeacher``.

Nothing is imported here, so ``speechtok.teachers.phone_ctc`` costs only itself. See docs/semantic.md.
"""
