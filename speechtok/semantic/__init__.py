"""Old home of speechtok's semantic modules, kept so that old imports (and ``python -m
speechtok.semantic.align``, ``.phone_ctc``, ``.mfcc_kmeans``) keep working. The code moved to the
package of its layer (docs/architecture.md):

=========================  =================================  ========
old                        new                                layer
=========================  =================================  ========
``semantic.phones``        ``data.phones``                    data
``semantic.align``         ``data.forced_align``              data
``semantic.synth``         ``data.flite_labels``              data
``semantic.phone_ctc``     ``teachers.phone_ctc``             models
``semantic.teachers``      ``teachers.frame_targets``         models
``semantic.measures``      ``eval.metrics.units``             measures
``semantic.mfcc_kmeans``   ``tokenizers.mfcc_kmeans``         families
``semantic.evaluate``      ``eval.phonetic``                  apps
``semantic.probe``         ``eval.phone_probe``               apps
=========================  =================================  ========

Each module here re-exports its new module's names; ``semantic.teachers.PhoneTeacher`` is
``teachers.frame_targets.AlignedPhoneTeacher``. Nothing inside speechtok imports this package
(tests/test_layers.py puts it above every other layer). See docs/semantic.md.
"""
