"""Reports rebuilt from ``rows.jsonl`` alone: summary.json, summary.md, report.html + report_files/.

Nothing here is typed in: each number is a mean (with a 95% percentile-bootstrap CI over
utterances) of rows, or a pooled token statistic (rows with ``utt = "*"``).
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import defaultdict
from pathlib import Path

from ..audio import load_audio, write_audio_atomic
from . import metrics as M
from .rows import ORIGINAL, cache_dir, latest, read_rows, safe_name
from .stats import summarize

RATE_METRICS = ("kbps", "entropy_kbps", "tokens_per_s", "frames_per_s", "codebooks", "encode_rtf", "decode_rtf")
#: quality outputs, in table order, with the group they belong to
QUALITY = [(s.group, o) for s in M.SPECS for o in s.outputs]
N_PLAYERS = 3


# ---- numbers -----------------------------------------------------------------------------------
def summary_from_rows(rows: list[dict]) -> dict:
    """``{"tokenizers": {name: {"version", "metrics": {metric: {mean, ci_low, ci_high, n, n_failed}}}},
    "utterances": how many, "evaluators": {metric: ["evaluator version", ...]}}``."""
    values: dict = defaultdict(lambda: defaultdict(list))
    failed: dict = defaultdict(lambda: defaultdict(int))
    versions: dict[str, str] = {}
    pooled: dict = defaultdict(dict)
    evaluators: dict = defaultdict(set)
    utts = set()
    for r in latest(rows):
        tok, metric = r["tokenizer"], r["metric"]
        versions[tok] = r["tokenizer_version"]
        evaluators[metric].add(f"{r['evaluator']} {r['evaluator_version']}")
        if r["utt"] != "*":
            utts.add(r["utt"])
        if r["utt"] == "*":
            pooled[tok][metric] = r["value"]
        elif r["error"] is not None:
            failed[tok][metric] += 1
        else:
            values[tok][metric].append(r["value"])
    out = {}
    for tok in sorted(versions, key=lambda t: (t == ORIGINAL, t)):
        ms = {m: summarize(values[tok].get(m, []), failed[tok].get(m, 0))
              for m in sorted(set(values[tok]) | set(failed[tok]))}
        for m, v in pooled[tok].items():
            ms[m] = {"mean": v, "ci_low": None, "ci_high": None, "n": 1, "n_failed": 0, "pooled": True}
        out[tok] = {"version": versions[tok], "metrics": ms}
    return {"tokenizers": out, "utterances": len(utts), "evaluators": {m: sorted(e) for m, e in sorted(evaluators.items())}}


def _fmt(v: float | None) -> str:
    if v is None:
        return "–"
    a = abs(v)
    return f"{v:.0f}" if a >= 1000 else f"{v:.3g}" if a >= 0.01 or a == 0 else f"{v:.2e}"


def cell(s: dict | None) -> str:
    """``mean [CI] n=K`` (K: the utterances the mean is over), ``(pooled)`` for pooled statistics."""
    if not s:
        return ""
    if s["mean"] is None:
        return f"failed ×{s['n_failed']}"
    text = _fmt(s["mean"])
    if s.get("pooled"):
        return text + " (pooled)"
    if s.get("ci_low") is not None and s["n"] > 1:
        text += f" [{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]"
    text += f" n={s['n']}"
    if s["n_failed"]:
        text += f" ({s['n_failed']} failed)"
    return text


def header(metric: str) -> str:
    """``si_sdr (dB) ↑``: the name, the unit and the direction of a metric."""
    unit = M.DESCRIPTIONS.get(metric, ("", ""))[0]
    shown = unit and unit not in ("–", metric)
    return " ".join(x for x in (metric, f"({unit})" if shown else "", M.direction(metric)) if x)


def tables(summary: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """``[(title, header, rows)]``: rate/speed, one per quality group, codebook usage."""
    toks = summary["tokenizers"]
    out = []
    groups = [("rate and speed", list(RATE_METRICS))]
    for g in M.GROUPS:
        groups.append((g, [o for gg, o in QUALITY if gg == g]))
    for title, metrics in groups:
        present = [m for m in metrics if any(m in t["metrics"] for t in toks.values())]
        rows = [[name] + [cell(t["metrics"].get(m)) for m in present]
                for name, t in toks.items() if any(m in t["metrics"] for m in present)]
        if present and rows:
            out.append((title, ["tokenizer"] + [header(m) for m in present], rows))
    cb_rows = []
    for name, t in toks.items():
        k = 0
        while f"usage_pct/cb{k}" in t["metrics"]:
            cb_rows.append([name, str(k), _fmt(t["metrics"][f"usage_pct/cb{k}"]["mean"]),
                            _fmt(t["metrics"][f"perplexity/cb{k}"]["mean"])])
            k += 1
    if cb_rows:
        out.append(("codebooks (pooled over all utterances)", ["tokenizer", "codebook", "usage %", "perplexity"], cb_rows))
    return out


INTRO = ("Each cell: the mean over utterances, its 95% bootstrap confidence interval in brackets and n, "
         "the number of utterances the mean is over (failures are counted apart). ↑ higher is better, "
         "↓ lower is better; rates, sizes and speeds without an arrow are facts. `original` scores the "
         "unprocessed audio. Rebuilt from rows.jsonl.")


def context(summary: dict, run: dict | None) -> list[tuple[str, str]]:
    """``[(what, value)]``: the command, the data, the tokenizer and evaluator versions, and the
    metrics computed for only some utterances with their n."""
    run = run or {}
    out = []
    if run.get("command"):
        out.append(("command", f"`{run['command']}`"))
    if run.get("data"):
        out.append(("data", f"`{run['data']}`, {summary.get('utterances', '?')} utterances"))
    for name, t in summary["tokenizers"].items():
        if name != ORIGINAL:
            out.append((f"tokenizer `{name}`", f"version {t['version']}"))
    for metric, why in M.ONLY_FOR.items():
        evs = summary.get("evaluators", {}).get(metric, [])
        if not evs or not all(e.startswith("pocketsphinx") for e in evs):
            continue
        ns = sorted({t["metrics"][metric]["n"] + t["metrics"][metric]["n_failed"]
                     for n, t in summary["tokenizers"].items() if metric in t["metrics"] and n != ORIGINAL})
        out.append((f"`{metric}`", f"only {why}: n = {', '.join(map(str, ns))} of {summary.get('utterances', '?')}"))
    return out


def glossary(summary: dict) -> list[list[str]]:
    """``[[metric, direction, unit, what]]`` for every metric the summary holds."""
    present = {m for t in summary["tokenizers"].values() for m in t["metrics"]}
    rows = [[m, {"↑": "higher is better", "↓": "lower is better"}.get(M.direction(m), "a fact"), unit, what]
            for m, (unit, what) in M.DESCRIPTIONS.items() if m in present]
    if any(m.startswith("usage_pct/") for m in present):
        rows.append(["usage_pct/cbK, perplexity/cbK", "a fact", "%, codes",
                     "pooled: share of codebook K's codes ever used; 2^(entropy) of its code distribution"])
    return rows


def markdown(summary: dict, run: dict | None = None) -> str:
    lines = ["# speechtok bench summary", "", INTRO, ""]
    facts = context(summary, run)
    if facts:
        lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in facts] + [""]
    for title, head, rows in tables(summary) + [("metrics", ["metric", "direction", "unit", "what"], glossary(summary))]:
        if not rows:
            continue
        lines += [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    return "\n".join(lines)


# ---- plots -------------------------------------------------------------------------------------
def family(name: str) -> str:
    """The line a tokenizer's point joins: its name without the rate setting, keeping variant
    suffixes apart (``opus@6kbps`` -> ``opus``, ``opus@6kbps-vbr`` -> ``opus-vbr``)."""
    return re.sub(r"@[^-]*", "", name)


def rate_distortion_plot(summary: dict, x_metric: str, path: Path) -> bool:
    """One panel per quality output: its mean (with CI bars) against ``x_metric``'s mean, one point per
    tokenizer, tokenizers of one family (the name before '@') joined by a line. False if nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    toks = {n: t["metrics"] for n, t in summary["tokenizers"].items() if n != ORIGINAL}
    outputs = [o for _, o in QUALITY if any(o in m and m[o]["mean"] is not None for m in toks.values())]
    if not outputs or not any(x_metric in m for m in toks.values()):
        return False
    cols = min(4, len(outputs))
    rows = (len(outputs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    families = sorted({family(n) for n in toks})
    colors = {f: plt.cm.tab10(i % 10) for i, f in enumerate(families)}
    for ax, o in zip(axes.flat, outputs):
        for fam in families:
            pts = sorted((m[x_metric]["mean"], m[o]["mean"], m[o]["ci_low"], m[o]["ci_high"], n)
                         for n, m in toks.items() if family(n) == fam and x_metric in m
                         and o in m and m[o]["mean"] is not None)
            if not pts:
                continue
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            err = [[max(0, p[1] - (p[2] if p[2] is not None else p[1])) for p in pts],
                   [max(0, (p[3] if p[3] is not None else p[1]) - p[1]) for p in pts]]
            ax.errorbar(xs, ys, yerr=err, marker="o", ms=4, capsize=2, color=colors[fam], label=fam)
            for x, y, *_, n in pts:  # every point labelled the same way: the tokenizer's full name
                ax.annotate(n, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")  # 0.5 1 2 5, not 10^0
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(header(o), fontsize=9)
        ax.set_xlabel({"kbps": "measured kbps (log)", "tokens_per_s": "tokens per second (log)"}.get(x_metric, x_metric),
                      fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, which="both")
    for ax in list(axes.flat)[len(outputs):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return True


# ---- html --------------------------------------------------------------------------------------
def _html_table(head, rows) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _players(out: Path, summary: dict, utterances) -> str:
    """Audio players for a few utterances: the original (copied as wav into report_files/) and
    each tokenizer's decoded audio (from the cache, beside the html)."""
    toks = [(n, t["version"]) for n, t in summary["tokenizers"].items() if n != ORIGINAL]
    parts = []
    for u in list(utterances)[:N_PLAYERS]:
        orig = out / "report_files" / "audio" / f"{safe_name(u.id)}.wav"
        try:
            if not orig.exists():
                write_audio_atomic(orig, *load_audio(u.path))
        except Exception as e:  # noqa: BLE001 - a missing original should not sink the report
            parts.append(f"<p>{html.escape(u.id)}: original unavailable ({html.escape(str(e))})</p>")
            continue
        cells = [("original", orig)]
        for name, ver in toks:
            wav = cache_dir(out, name, ver) / f"{safe_name(u.id)}.wav"
            if wav.exists():
                cells.append((name, wav))
        items = "".join(
            f'<div class="player"><div>{html.escape(label)}</div>'
            f'<audio controls preload="none" src="{html.escape(os.path.relpath(p, out))}"></audio></div>'
            for label, p in cells)
        text = f" — “{html.escape(u.text)}”" if getattr(u, "text", None) else ""
        parts.append(f"<h3>{html.escape(u.id)}{text}</h3><div class='players'>{items}</div>")
    return "\n".join(parts)


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
th{background:#f3f3f3}img{max-width:100%}.players{display:flex;flex-wrap:wrap;gap:10px}
.player{font-size:12px;border:1px solid #ddd;padding:4px}audio{width:220px}"""


def build_report(out: str | os.PathLike, utterances=None) -> dict:
    """Rebuild summary.json, summary.md, report.html (+ report_files/) in ``out`` from its rows.jsonl.
    ``utterances`` (for the audio players) defaults to the run's inputs.jsonl."""
    from ..data.manifest import read_manifest

    out = Path(out)
    rows = read_rows(out / "rows.jsonl")
    summary = summary_from_rows(rows)
    run = json.loads((out / "run.json").read_text()) if (out / "run.json").exists() else None
    if run:
        summary["run"] = run
    _write(out / "summary.json", json.dumps(summary, indent=1, sort_keys=True) + "\n")
    md = markdown(summary, run)
    _write(out / "summary.md", md)
    files = out / "report_files"
    plots = []
    for x, title in (("kbps", "quality against measured kbps"), ("tokens_per_s", "quality against tokens per second")):
        png = files / f"rd_{x}.png"
        if rate_distortion_plot(summary, x, png):
            plots.append(f"<h2>{title}</h2><img src='report_files/{png.name}' alt='{title}'>")
    if utterances is None and (out / "inputs.jsonl").exists():
        utterances = read_manifest(out / "inputs.jsonl")
    doc = ["<!doctype html><html><head><meta charset='utf-8'><title>speechtok bench</title>",
           f"<style>{STYLE}</style></head><body><h1>speechtok bench</h1>",
           f"<p>{html.escape(INTRO)}</p>"]
    facts = context(summary, run)
    if facts:
        doc.append(_html_table(["", ""], [[k.replace("`", ""), v.replace("`", "")] for k, v in facts]))
    for title, head, trs in tables(summary):
        doc.append(f"<h2>{html.escape(title)}</h2>{_html_table(head, trs)}")
    doc += plots
    doc.append(f"<h2>metrics</h2>{_html_table(['metric', 'direction', 'unit', 'what'], glossary(summary))}")
    if utterances:
        doc.append("<h2>listen</h2>" + _players(out, summary, utterances))
    doc.append("</body></html>")
    _write(out / "report.html", "\n".join(doc))
    return summary


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
