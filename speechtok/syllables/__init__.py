"""Syllable-level speech tokens (issue 18, after Sylber's idea, with our own means).

- ``segment``: an unsupervised syllable segmenter (band-limited energy envelope, nuclei at its
  prominent peaks, boundaries at the envelope minima between them); numpy only.
- ``syllabify``: reference syllables from ARPAbet phone alignments (one per vowel, maximal
  onset within a word) and the boundary measures (precision / recall / F1 / R-value).
- ``tokenizer``: the ``syllables`` tokenizer family: three codes per syllable (content, duration,
  pitch), encode only.
- ``python -m speechtok.syllables fit|eval``: fits the content k-means; evaluates on a manifest.

docs/syllables.md describes them.
"""
