"""`speechtok lm bench` and `speechtok lm lexical` (filled in below)."""


def register_bench(sub) -> None:
    pass
