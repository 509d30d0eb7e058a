"""`speechtok lm bench`: how well can a fixed-budget LM model each tokenizer?

For every tokenizer spec (``NAME[+layout=first|flat|delay][+codebooks=N][+bpe=V]``): tokenize the
train / valid / test (and lexical-test) manifests (``speechtok tokenize``, cached), train the same
LM config on the training tokens (same size, steps and tokens per step for every row; cached and
resumable), then measure on the test split: bits per second of audio (with a bootstrap CI over
utterances), bits per token, perplexity, ids and AR steps per second of audio, the raw bitrate of
the codes modelled, a Kneser-Ney n-gram's bits per second, sampling speed, and the lexical test.

Each spec's result is one JSON object in ``OUT/results.jsonl`` (replaced when the spec is rerun),
its lexical items in ``OUT/lexical_items/<slug>.jsonl``, and ``OUT/results.md`` is rebuilt from all
rows, so adding a row later is one more ``-t``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..fsutil import write_atomic


@dataclass
class Spec:
    text: str
    tokenizer: str
    layout: str = "flat"
    codebooks: int = 0
    bpe: int = 0
    skip: int = 0

    @classmethod
    def parse(cls, text: str) -> "Spec":
        name, *opts = text.split("+")
        spec = cls(text=text, tokenizer=name)
        for o in opts:
            key, sep, value = o.partition("=")
            if key == "layout" and value in ("first", "flat", "delay"):
                spec.layout = value
            elif key == "codebooks" and value.isdigit():
                spec.codebooks = int(value)
            elif key == "bpe" and value.isdigit():
                spec.bpe = int(value)
            elif key == "skip" and value.isdigit():
                spec.skip = int(value)
            else:
                raise ValueError(f"{text!r}: bad option {o!r}; use +layout=first|flat|delay, +codebooks=N, +bpe=V, +skip=N")
        return spec

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.text)

    def overrides(self) -> list[str]:
        return [f"data.layout={self.layout}", f"data.codebooks={self.codebooks}", f"data.bpe_vocab={self.bpe}",
                f"data.skip_codebooks={self.skip}"]


def merge_manifests(paths: list[str], out: Path) -> Path:
    """One manifest (absolute paths) from several; ids must be unique across them."""
    from ..data.manifest import list_inputs, write_manifest

    utts = [u for p in paths for u in list_inputs(p)]
    ids = [u.id for u in utts]
    if len(set(ids)) != len(ids):
        raise ValueError(f"the manifests {paths} share utterance ids; ids must be unique across them")
    digest = hashlib.sha1("\n".join(sorted(f"{u.id}\t{u.path}" for u in utts)).encode()).hexdigest()[:10]
    target = out / f"train-{digest}.jsonl"
    if not target.exists():
        write_manifest(target, utts)
    return target


def tokenize(tokenizer: str, manifest: str | Path, out: Path, workers: int, progress: bool) -> Path:
    from ..corpus import JobOptions, run_job

    if not (out / "index.json").exists():
        run_job(JobOptions(tokenizer=tokenizer, data=str(manifest), out=str(out), workers=workers, progress=progress,
                           command=f"speechtok tokenize -t {tokenizer} --data {manifest} --out {out}"))
    return out


def raw_bitrate(frame_rate: float, sizes) -> float:
    return frame_rate * sum(math.log2(s) for s in sizes)


def sampling_speed(lm, steps: int = 64) -> float:
    """AR steps per second of greedy sampling with the KV cache (one sequence, this CPU)."""
    lm.generate(None, frames=4, temperature=0)  # warm-up
    frames = steps if lm.layout.kind == "delay" else max(1, steps // lm.layout.num_codebooks)
    t = time.perf_counter()
    lm.generate(None, frames=frames, temperature=0)
    return lm.last_steps / (time.perf_counter() - t)


def ngram_bits(layout, train_rows, test_rows, order: int) -> dict:
    """Kneser-Ney n-gram on the single-stream form of the same ids (delay: its flat equivalent)."""
    from .layout import Layout
    from .ngram import KneserNeyLM

    lay = layout if layout.num_streams == 1 else Layout("flat", layout.codebook_sizes, skip=layout.skip)
    model = KneserNeyLM(lay.content_sizes[0], order).fit(lay.encode(r["codes"])[0] for r in train_rows)
    bits = [float(model.bits(lay.encode(r["codes"])[0])[:-1].sum()) for r in test_rows]
    seconds = sum(r["duration"] for r in test_rows)
    tokens = sum(len(lay.encode(r["codes"])[0]) for r in test_rows)
    return {"order": order, "bits_per_second": sum(bits) / seconds, "bits_per_token": sum(bits) / tokens}


def run_spec(spec: Spec, *, config: str | Path, overrides: list[str], train: Path, valid: str | None, test: str,
             lexical: str | None, work: Path, out: Path, workers: int = 1, ngram_order: int = 3, progress: bool = True) -> dict:
    from ..lm.config import load_lm_config
    from .data import iter_rows, token_folder_info
    from .measures import likelihood_summary
    from .speech_lm import SpeechLM
    from .train import LMTrainer

    tok_dir = work / "tokens" / re.sub(r"[^A-Za-z0-9._-]+", "_", spec.tokenizer)
    folders = {"train": tokenize(spec.tokenizer, train, tok_dir / "train", workers, progress),
               "test": tokenize(spec.tokenizer, test, tok_dir / "test", workers, progress)}
    if valid:
        folders["valid"] = tokenize(spec.tokenizer, valid, tok_dir / "valid", workers, progress)
    if lexical:
        folders["lexical"] = tokenize(spec.tokenizer, Path(lexical) / "manifest.jsonl", tok_dir / "lexical", workers, progress)

    data = [f"data.train={folders['train']}"] + ([f"data.valid={folders['valid']}"] if valid else [])
    cfg = load_lm_config(config, list(overrides) + spec.overrides() + data)
    run_dir = work / "lm" / spec.slug
    t0 = time.time()
    trainer = LMTrainer(cfg, run_dir, progress=progress)
    trainer.resume()
    trainer.fit()
    train_seconds = time.time() - t0
    lm = SpeechLM.load(run_dir)
    info = token_folder_info(folders["train"])
    test_rows = list(iter_rows(folders["test"]))
    scores = lm.score([r["codes"] for r in test_rows])
    summary = likelihood_summary([{"duration": r["duration"], **s} for r, s in zip(test_rows, scores)])
    train_rows = list(iter_rows(folders["train"]))
    ngram = ngram_bits(lm.layout, train_rows, test_rows, ngram_order)
    speed = sampling_speed(lm)
    result = {
        "spec": spec.text, "tokenizer": spec.tokenizer, "layout": spec.layout, "codebooks": lm.layout.num_codebooks,
        "bpe_vocab": spec.bpe, "frame_rate": info["frame_rate"],
        "raw_kbps": raw_bitrate(info["frame_rate"], lm.layout.codebook_sizes) / 1000,
        "train_hours": info["hours"],
        "train_ids": int(sum(lm.layout.is_content(lm.layout.encode(r["codes"])).sum() for r in train_rows)),
        "lm": {"parameters": lm.model.num_parameters(), "steps": cfg.train.steps, "batch_size": cfg.train.batch_size,
               "context": cfg.model.context, "train_seconds": round(train_seconds, 1)},
        "test": summary, "ngram": ngram,
        "sampling_steps_per_second": speed,
        "sampling_x_realtime": speed / summary["steps_per_second"],
    }
    if lexical:
        from .lexical import item_outcomes, lexical_summary, load_pairs

        pairs, meta = load_pairs(lexical)
        lex_rows = list(iter_rows(folders["lexical"]))
        lex_scores = lm.score([r["codes"] for r in lex_rows])
        items = item_outcomes(pairs, meta, {r["id"]: s for r, s in zip(lex_rows, lex_scores)})
        result["lexical"] = lexical_summary(items)
        keep = ("pair", "voice", "sum", "norm")
        text = "".join(json.dumps({k: i[k] for k in keep}) + "\n" for i in items)
        write_atomic(out / "lexical_items" / f"{spec.slug}.jsonl", lambda tmp: tmp.write_text(text))
    return result


# ---- results file and table ------------------------------------------------------------------------
def read_results(path: Path) -> list[dict]:
    """The rows of an `lm bench` results.jsonl ([] when there is none yet); a file that is not
    one (a line that is not a JSON object with a "spec") is a ValueError naming it."""
    from ..errors import SpeechtokError

    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            row = None
        if not isinstance(row, dict) or not isinstance(row.get("spec"), str):
            raise SpeechtokError(f"{path}: line {n} is not a result of `speechtok lm bench`; choose another --out")
        rows.append(row)
    return rows


def update_results(out: Path, result: dict) -> list[dict]:
    path = out / "results.jsonl"
    rows = read_results(path)
    rows = [r for r in rows if r["spec"] != result["spec"]] + [result]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    write_atomic(path, lambda tmp: tmp.write_text(text))
    return rows


def _ci(d: dict | None, key: str = "acc") -> str:
    if not d or d.get(key) is None:
        return "–"
    return f"{d[key]:.1f} [{d['ci'][0]:.1f}, {d['ci'][1]:.1f}]"


def _realtime(r: dict) -> float:
    """Seconds of audio generated per CPU second: the 3 s greedy continuations of the speculative
    measure (CPU time) when present, else the 64-step wall-clock figure."""
    plain = (r.get("speculative") or {}).get("plain_steps_per_s")
    return plain / r["test"]["steps_per_second"] if plain else r["sampling_x_realtime"]


def render_table(rows: list[dict], items_dir: Path | None = None) -> str:
    lines = [
        "| tokenizer (LM layout) | raw kbps | LM ids/s | AR steps/s | LM bits/s [95% CI] | bits/token | perplexity | "
        "KN n-gram bits/s | greedy sampling, s of audio per CPU s | lexical, summed % [CI] | lexical, per token % [CI] | held-out voice, per token % |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        t = r["test"]
        lx = r.get("lexical") or {}
        lines.append(
            f"| `{r['spec']}` | {r['raw_kbps']:.2f} | {t['tokens_per_second']:.1f} | {t['steps_per_second']:.1f} | "
            f"{t['bits_per_second']:.0f} [{t['bits_per_second_ci'][0]:.0f}, {t['bits_per_second_ci'][1]:.0f}] | "
            f"{t['bits_per_token']:.2f} | {t['perplexity']:.1f} | {r['ngram']['bits_per_second']:.0f} | "
            f"{_realtime(r):.1f} | {_ci((lx.get('sum') or {}).get('all'))} | {_ci((lx.get('norm') or {}).get('all'))} | "
            f"{_ci((lx.get('norm') or {}).get('held_out_voice'))} |"
        )
    lex = [r for r in rows if r.get("lexical")]
    if lex:
        buckets = list(lex[0]["lexical"]["norm"]["by_train_count"])
        lengths = list(lex[0]["lexical"]["norm"]["by_phonemes"])
        lines += ["", "Lexical test, per-token score, by how often the word occurs in the training text and by its length in phonemes (accuracy %, n items):", "",
                  "| tokenizer | " + " | ".join(f"count {b}" for b in buckets) + " | " + " | ".join(f"{b} phonemes" for b in lengths) + " |",
                  "|---|" + "---:|" * (len(buckets) + len(lengths))]
        for r in lex:
            n = r["lexical"]["norm"]
            cells = [n["by_train_count"][b] for b in buckets] + [n["by_phonemes"][b] for b in lengths]
            lines.append(f"| `{r['spec']}` | " + " | ".join(f"{c['acc']:.1f} ({c['n']})" if c["acc"] is not None else "–" for c in cells) + " |")
    cont = [r for r in rows if r.get("continuation")]
    if cont:
        lines += ["", "Continuation (prompt 2.5 s of held-out speech, sample 3 s at temperature 0.8, top-k 50, decode): "
                  "pocketsphinx words per second and Resemblyzer similarity to the prompt, mean [95% CI]; "
                  "'resynth' = the same for the tokenizer's decoding of the prompt itself (the ceiling through this tokenizer):", "",
                  "| tokenizer | prompts | words/s | resynth words/s | speaker sim. | resynth speaker sim. |", "|---|---:|---|---|---|---|"]
        for r in cont:
            c = r["continuation"]
            if "skipped" in c:
                lines.append(f"| `{r['spec']}` | – | skipped: {c['skipped'].split(' (')[0]} | | | |")
                continue
            f = lambda d, nd=2: f"{d['mean']:.{nd}f} [{d['ci_low']:.{nd}f}, {d['ci_high']:.{nd}f}]"  # noqa: E731
            lines.append(f"| `{r['spec']}` | {c['prompts']} | {f(c['words_per_second'], 1)} | {f(c['resynth_words_per_second'], 1)} | "
                         f"{f(c['speaker_similarity'])} | {f(c['resynth_speaker_similarity'])} |")
    spec_rows = [r for r in rows if r.get("speculative")]
    if spec_rows:
        lines += ["", "Fast decoding: greedy speculative decoding (Kneser-Ney order-4 draft on the training ids, up to 4 "
                  "drafted ids per LM pass) against plain greedy decoding, 3 s continuations of 2 s prompts from the 4 "
                  "longest test utterances, CPU seconds on one thread:", "",
                  "| tokenizer | identical output | plain AR steps/s | speculative AR steps/s | speed-up | drafted ids kept | ids per LM pass |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for r in spec_rows:
            s = r["speculative"]
            if "skipped" in s:
                plain = f"{s['plain_steps_per_s']:.0f}" if "plain_steps_per_s" in s else ""
                lines.append(f"| `{r['spec']}` | skipped: {s['skipped']} | {plain} | | | | |")
                continue
            lines.append(f"| `{r['spec']}` | {'yes' if s['identical'] else 'NO'} | {s['plain_steps_per_s']:.0f} | "
                         f"{s['speculative_steps_per_s']:.0f} | {s['speedup']:.2f}× | {s['acceptance'] * 100:.0f}% | {s['ids_per_forward']:.2f} |")
    if items_dir is not None and len(lex) > 1:
        from .lexical import paired_test

        items = {}
        for r in lex:
            p = items_dir / f"{Spec.parse(r['spec']).slug}.jsonl"
            if p.exists():
                items[r["spec"]] = [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
        specs = list(items)
        if len(specs) > 1:
            lines += ["", "Paired comparison on the same lexical items (per-token score): difference A − B in points "
                      "[bootstrap 95% CI], items only A / only B got right, two-sided sign test:", "",
                      "| A | B | A − B | only A | only B | p |", "|---|---|---|---:|---:|---:|"]
            for i, a in enumerate(specs):
                for b in specs[i + 1 :]:
                    pt = paired_test(items[a], items[b])
                    lines.append(f"| `{a}` | `{b}` | {pt['diff']:+.1f} [{pt['ci'][0]:+.1f}, {pt['ci'][1]:+.1f}] | "
                                 f"{pt['a_only']} | {pt['b_only']} | {pt['p_sign_test']:.3g} |")
    return "\n".join(lines) + "\n"


def speculative_row(lm, work: Path, spec: Spec, prompts: int = 4, prompt_seconds: float = 2.0, seconds: float = 3.0) -> dict:
    """Plain vs speculative greedy decoding (Kneser-Ney draft of order 4 on the training ids):
    ``speculative.measure_speedup`` on the first ``prompt_seconds`` of the longest test utterances."""
    from .data import iter_rows
    from .speculative import NgramDraft, longest_prompts, measure_speedup

    tok_dir = work / "tokens" / re.sub(r"[^A-Za-z0-9._-]+", "_", spec.tokenizer)
    heads = longest_prompts(tok_dir / "test", lm, prompts, prompt_seconds)
    frames = int(round(seconds * lm.frame_rate))
    if lm.layout.num_streams != 1:  # plain greedy speed only (the n-gram draft reads one stream)
        steps = cpu = 0.0
        lm.generate(heads[0], 2, temperature=0)
        for p in heads:
            t = time.process_time()
            lm.generate(p, frames, temperature=0)
            cpu += time.process_time() - t
            steps += lm.last_steps
        return {"skipped": "delay layout (the n-gram draft needs one stream; see benchmarks/lm/speculative)", "prompts": len(heads),
                "frames": frames, "plain_cpu_s": cpu, "plain_steps_per_s": steps / cpu}
    draft = NgramDraft.fit(lm.layout, (r["codes"] for r in iter_rows(tok_dir / "train")), order=4)
    return measure_speedup(lm, heads, frames, draft)
