"""Defaults that more than one part of speechtok uses, kept in one place."""

#: What `speechtok encode`/`demo` use when no tokenizer is named. A classic codec until our
#: own model ("speechtok-base") is trained and shipped.
DEFAULT_TOKENIZER = "opus@6kbps"

#: Classic codecs `speechtok demo` compares the default tokenizer against.
DEMO_COMPARE = ("opus@6kbps", "codec2@3200")
