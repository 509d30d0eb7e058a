"""Defaults that more than one part of speechtok uses, kept in one place."""

#: What `speechtok encode`/`tokenize`/`demo` use when no tokenizer is named: our shipped codec,
#: all six codebooks (3 kbps at 50 Hz). Lower bitrates: "speechtok-base@1.5kbps" etc.
DEFAULT_TOKENIZER = "speechtok-base"

#: Tokenizers `speechtok demo` compares the default against: a lower bitrate of our own and the
#: classic codecs it must beat (Opus at its stronger setting, VBR).
DEMO_COMPARE = ("speechtok-base@1.5kbps", "opus@6kbps-vbr", "codec2@3200")
