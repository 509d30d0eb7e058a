"""Defaults that more than one part of speechtok uses, kept in one place."""

#: What `speechtok encode`/`tokenize`/`demo` use when no tokenizer is named: our shipped
#: source-filter codec, all three envelope stages (2.0 kbps at 50 Hz). Lower bitrates:
#: "speechtok-base@1.45kbps", "speechtok-base@0.9kbps".
DEFAULT_TOKENIZER = "speechtok-base"

#: Tokenizers `speechtok demo` compares the default against: lower bitrates of our own, the same
#: codec on the fast analysis, and the classic codecs it must beat (Opus at 6 kbps, CBR and the
#: stronger VBR; Codec2 at its top rate).
DEMO_COMPARE = ("speechtok-base@1.45kbps", "speechtok-base@0.9kbps", "speechtok-fast@1.45kbps", "opus@6kbps",
                "opus@6kbps-vbr", "codec2@3200")

#: What `speechtok serve` offers for live streaming besides those: the fast model's low-latency
#: mode (frame-local analysis, a refiner 1 frame ahead; 70 ms algorithmic latency, docs/sourcefilter.md).
LOW_LATENCY_STREAM = "speechtok-fast+lowlatency@1.45kbps"
