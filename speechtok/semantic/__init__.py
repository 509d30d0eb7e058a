"""Semantic side of speechtok: phone alignments and synthetic labelled speech, teachers for the
codec's semantic losses, and measures of how much phonetic content tokens carry.
See docs/semantic.md."""
