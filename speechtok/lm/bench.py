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


def make_folders(spec: Spec, *, train: Path, valid: str | None, test: str, lexical: str | None, syntactic: str | None,
                 work: Path, workers: int = 1, progress: bool = True) -> dict[str, Path]:
    """Token folders of every split for ``spec``: ``speechtok tokenize`` for a tokenizer, the phone
    topline's own writer (``topline.py``; the training folder fixes its phone inventory) for
    ``phones`` / ``phones@<rate>hz``."""
    from .topline import inventory_of, item_phonemes, parse_topline, write_phone_folder

    tok_dir = work / "tokens" / re.sub(r"[^A-Za-z0-9._-]+", "_", spec.tokenizer)
    splits = {"train": train, "test": test}
    if valid:
        splits["valid"] = valid
    if lexical:
        splits["lexical"] = Path(lexical) / "manifest.jsonl"
    if syntactic:
        splits["syntactic"] = Path(syntactic) / "manifest.jsonl"
    if parse_topline(spec.tokenizer) is None:
        return {k: tokenize(spec.tokenizer, m, tok_dir / k, workers, progress) for k, m in splits.items()}
    folders = {"train": write_phone_folder(train, tok_dir / "train", spec.tokenizer, progress=progress)}
    inventory = inventory_of(folders["train"])
    for k, m in splits.items():
        if k != "train":
            phon = item_phonemes(Path(lexical)) if k == "lexical" else None
            folders[k] = write_phone_folder(m, tok_dir / k, spec.tokenizer, inventory=inventory, phonemes=phon, progress=progress)
    return folders


def pair_test(lm, folder: Path, tokens: Path, work: Path, out: Path, slug: str, name: str) -> dict:
    """Score a lexical or syntactic test (``lexical.item_outcomes``: durations of both recordings
    and the near-identical mark included) -> its summary; items to ``OUT/<name>_items/<slug>.jsonl``."""
    from .data import iter_rows
    from .lexical import item_outcomes, lexical_summary, load_pairs, pair_audio

    pairs, meta = load_pairs(folder)
    rows = list(iter_rows(tokens))
    scores = lm.score([r["codes"] for r in rows])
    audio = pair_audio(folder, cache=work / f"{name}-recordings.json")
    items = item_outcomes(pairs, meta, {r["id"]: {**s, "duration": r["duration"]} for r, s in zip(rows, scores)}, audio)
    keep = ("pair", "voice", "sum", "norm", "dur_w", "dur_n", "near_identical", "phenomenon")
    text = "".join(json.dumps({k: i[k] for k in keep if k in i}) + "\n" for i in items)
    write_atomic(out / f"{name}_items" / f"{slug}.jsonl", lambda tmp: tmp.write_text(text))
    return lexical_summary(items)


def run_spec(spec: Spec, *, config: str | Path, overrides: list[str], train: Path, valid: str | None, test: str,
             lexical: str | None, work: Path, out: Path, workers: int = 1, ngram_order: int = 3, progress: bool = True,
             syntactic: str | None = None) -> dict:
    from ..lm.config import load_lm_config
    from .data import iter_rows, token_folder_info
    from .measures import likelihood_summary
    from .speech_lm import SpeechLM
    from .train import LMTrainer

    folders = make_folders(spec, train=train, valid=valid, test=test, lexical=lexical, syntactic=syntactic, work=work,
                           workers=workers, progress=progress)
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
        result["lexical"] = pair_test(lm, Path(lexical), folders["lexical"], work, out, spec.slug, "lexical")
    if syntactic:
        result["syntactic"] = pair_test(lm, Path(syntactic), folders["syntactic"], work, out, spec.slug, "syntactic")
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
    lines += control_tables(rows)
    if items_dir is not None and len(lex) > 1:
        lines += paired_tables(rows, items_dir)
    return "\n".join(lines) + "\n"


REFERENCE = "mfcc-kmeans@50hz:k500"


def topline_of(rows: list[dict]) -> dict | None:
    """The deduplicated phone topline's row (else any error-free phone topline's; the simulated
    recognition errors of ``phones:per<P>`` make a row a diagnostic, not a ceiling)."""
    from .topline import parse_topline, topline_error_rate

    tops = [r for r in rows if parse_topline(r["tokenizer"]) is not None and not topline_error_rate(r["tokenizer"])]
    return next((r for r in tops if r["tokenizer"] == "phones"), tops[0] if tops else None)


def fraction_of_topline(acc: float | None, top: dict | None, chance: float = 50.0) -> float | None:
    """How far from chance to the topline a score gets (1 = as far as the topline). ``top`` is the
    topline's accuracy entry (``{"acc", "ci"}``); None when there is none or its CI reaches chance
    (a ratio to a margin that may be zero means nothing)."""
    if acc is None or not top or top.get("acc") is None or top["ci"][0] <= chance:
        return None
    return (acc - chance) / (top["acc"] - chance)


def _pct(v) -> str:
    return "–" if v is None else f"{v:.1f}"


def control_tables(rows: list[dict]) -> list[str]:
    """The duration-controlled lexical table (with the "pick the shorter one" rule and the fraction
    of the topline's margin) and the syntactic table, for rows that have them."""
    lines: list[str] = []
    for test in ("lexical", "syntactic"):
        done = [r for r in rows if (r.get(test) or {}).get("controls")]
        if not done:
            continue
        top = topline_of(done)
        c = done[0][test]["controls"]
        top_m = top[test]["sum"].get("matched") if top else None
        top_a = top[test]["sum"].get("all") if top else None
        title = "Lexical test" if test == "lexical" else "Syntactic test (sBLIMP-style sentence pairs)"
        lines += ["", f"{title}, controlled for duration: all {c['items']} items; **matched** = the {c['matched_items']} items whose two "
                  f"recordings differ by <= {c['matched_seconds'] * 1000:.0f} ms, {c['near_identical_items']} near-identical pairs "
                  f"(log-mel distance < {c['near_identical_below']}) left out; length-regressed = a logistic fit of the outcome on the "
                  "length difference, read at 0; of topline = (score - 50) / (topline - 50), summed scores, given where the topline's "
                  "CI lies above chance:", "",
                  "| tokenizer | summed, all % [CI] | summed, matched % [CI] | per token, matched % [CI] | summed, length-regressed % | "
                  "of topline, all | of topline, matched |", "|---|---|---|---|---:|---:|---:|"]
        short = done[0][test]["shorter_one"]
        lines.append(f"| *pick the shorter one* (no LM) | {_ci(short['all'])} | {_ci(short['matched'])} | | | "
                     f"{_frac(fraction_of_topline(short['all']['acc'], top_a))} | {_frac(fraction_of_topline(short['matched']['acc'], top_m))} |")
        for r in done:
            s_, n_ = r[test]["sum"], r[test]["norm"]
            lines.append(f"| `{r['spec']}` | {_ci(s_['all'])} | {_ci(s_['matched'])} | {_ci(n_['matched'])} | {_pct(s_.get('length_regressed'))} | "
                         f"{_frac(fraction_of_topline(s_['all']['acc'], top_a))} | {_frac(fraction_of_topline(s_['matched']['acc'], top_m))} |")
        if test == "syntactic":
            phen = list(done[0][test]["sum"].get("by_phenomenon", {}))
            if phen:
                lines += ["", "Syntactic test by phenomenon, summed score % (items):", "",
                          "| tokenizer | " + " | ".join(phen) + " |", "|---|" + "---:|" * len(phen)]
                for r in done:
                    b = r[test]["sum"]["by_phenomenon"]
                    lines.append(f"| `{r['spec']}` | " + " | ".join(f"{_pct(b[p]['acc'])} ({b[p]['n']})" for p in phen) + " |")
    return lines


def _frac(v) -> str:
    return "–" if v is None else f"{v:.2f}"


def paired_tables(rows: list[dict], items_dir: Path) -> list[str]:
    """Each row against MFCC k-means on the same items (summed score): all items and the
    duration-controlled ones; difference [bootstrap CI], only-A / only-B counts, sign test."""
    from .lexical import controlled, paired_test

    lines: list[str] = []
    for test, folder in (("lexical", items_dir), ("syntactic", items_dir.parent / "syntactic_items")):
        items = {}
        for r in rows:
            if not r.get(test):
                continue
            p = folder / f"{Spec.parse(r['spec']).slug}.jsonl"
            if p.exists():
                items[r["spec"]] = [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
        ref = REFERENCE if REFERENCE in items else None
        if ref is None or len(items) < 2:
            continue
        has_dur = any("dur_w" in i for i in items[ref])
        lines += ["", f"Paired comparison with `{ref}` on the same {test} items (summed score): difference A − B in points "
                  "[bootstrap 95% CI], items only A / only B got right, two-sided sign test" + ("; all items, then the duration-controlled ones" if has_dur else "") + ":", "",
                  "| A | items | A − B | only A | only B | p |" + (" matched: A − B | only A | only B | p |" if has_dur else ""),
                  "|---|---:|---|---:|---:|---:|" + ("---|---:|---:|---:|" if has_dur else "")]
        for spec, its in items.items():
            if spec == ref:
                continue
            pt = paired_test(its, items[ref], score="sum")
            cells = f"| `{spec}` | {pt['items']} | {pt['diff']:+.1f} [{pt['ci'][0]:+.1f}, {pt['ci'][1]:+.1f}] | {pt['a_only']} | {pt['b_only']} | {pt['p_sign_test']:.3g} |"
            if has_dur:
                keep = {(i["pair"], i["voice"]) for i in controlled(items[ref])}
                a = [i for i in its if (i["pair"], i["voice"]) in keep]
                try:
                    pm = paired_test(a, items[ref], score="sum")
                    cells += f" {pm['diff']:+.1f} [{pm['ci'][0]:+.1f}, {pm['ci'][1]:+.1f}] | {pm['a_only']} | {pm['b_only']} | {pm['p_sign_test']:.3g} |"
                except ValueError:
                    cells += " – | | | |"
            lines.append(cells)
    return lines


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
