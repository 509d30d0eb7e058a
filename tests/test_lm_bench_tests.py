"""The LM bench's own tests: the phone topline, the sBLIMP-style syntactic pairs, the duration
controls of the pair tests ("pick the shorter one", length-matched items, length regression,
near-identical recordings) and the fraction of the topline's margin."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from speechtok.data import shipped_clips
from speechtok.lm.lexical import (MATCHED_SECONDS, NEAR_IDENTICAL, controlled, item_outcomes, length_regressed,
                                  lexical_summary, recording_distance, shorter_outcomes)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


# ---- the phone topline ---------------------------------------------------------------------------
def test_topline_specs_parse():
    from speechtok.lm.topline import parse_topline

    assert parse_topline("phones") == 0.0 and parse_topline("phones@50hz") == 50.0 and parse_topline("phones@12.5hz") == 12.5
    assert parse_topline("mfcc-kmeans@50hz:k500") is None and parse_topline("phonesx") is None
    with pytest.raises(ValueError, match="rate"):
        parse_topline("phones@0hz")


def test_noisy_topline_names_parse_and_never_serve_as_the_ceiling():
    from speechtok.lm.bench import topline_of
    from speechtok.lm.topline import parse_topline, topline_error_rate

    assert parse_topline("phones:per0.2") == 0.0 and topline_error_rate("phones:per0.2") == pytest.approx(0.2)
    assert parse_topline("phones@50hz:per.05") == 50.0 and topline_error_rate("phones@50hz:per.05") == pytest.approx(0.05)
    assert topline_error_rate("phones") == 0.0 and parse_topline("phones:per") is None
    with pytest.raises(ValueError, match="error rate"):
        parse_topline("phones:per1.5")
    rows = [{"tokenizer": "phones:per0.1"}, {"tokenizer": "mfcc"}, {"tokenizer": "phones@50hz"}]
    assert topline_of(rows)["tokenizer"] == "phones@50hz"
    assert topline_of(rows[:2]) is None


def test_corrupt_makes_the_asked_phone_error_rate_reproducibly():
    from speechtok.dsp import edit_distance
    from speechtok.lm.topline import corrupt

    pool = list(range(40))  # phone names in the folder writer; ints here for edit_distance
    rng = np.random.default_rng(0)
    seqs = [[int(j) for j in rng.integers(40, size=30)] for _ in range(200)]
    assert corrupt(seqs[0], 0.0, pool, "a") == seqs[0]
    for per in (0.05, 0.2, 0.4):
        noisy = [corrupt(s, per, pool, f"utt{i}") for i, s in enumerate(seqs)]
        measured = sum(edit_distance(s, n) for s, n in zip(seqs, noisy)) / sum(map(len, seqs))
        # the number of errors drawn is random (6000 phones: a few % around the asked rate), and an
        # insertion next to an equal phone can cost less than one edit
        assert per * 0.85 < measured < per * 1.1, (per, measured)
        assert noisy == [corrupt(s, per, pool, f"utt{i}") for i, s in enumerate(seqs)]  # seeded by the key
    # the same sequence under two keys (two voices' recordings of one item) gets different errors
    assert corrupt(seqs[0], 0.4, pool, "en-us/1") != corrupt(seqs[0], 0.4, pool, "en-gb/1")


@needs_espeak
def test_g2p_gives_the_phones_spoken_without_stress_or_allophone_marks():
    from speechtok.lm.topline import g2p, split_phones

    assert split_phones("b_a#_n_'a_n_@ D_@2 k_w_'I_k") == ["b", "a", "n", "a", "n", "@", "D", "@", "k", "w", "I", "k"]
    cat, written, blank = g2p(["cat", "[[p'i:faUl]]", "  "])
    assert cat == ["k", "a", "t"]
    assert written == ["p", "i:", "f", "aU", "l"]  # a lexical item: exactly the mnemonics spoken
    assert blank == []


def test_frame_phones_spread_evenly_inside_the_span():
    from speechtok.lm.topline import frame_phones, speaking_span

    seq = frame_phones([5, 6, 7], 20, (4, 16))
    assert seq.tolist() == [0] * 4 + [5] * 4 + [6] * 4 + [7] * 4 + [0] * 4
    dedup = [int(x) for i, x in enumerate(seq) if x and (i == 0 or seq[i - 1] != x)]
    assert dedup == [5, 6, 7]
    assert frame_phones([1, 2, 3], 5, (2, 3)).tolist() == [0, 0, 3, 0, 0]  # too short a span: order kept
    sr = 16000  # 0.2 s silence, 0.6 s tone, 0.2 s silence at 50 Hz: frames 10..40
    wav = np.concatenate([np.zeros(3200), 0.5 * np.sin(np.arange(9600) * 0.2), np.zeros(3200)])
    assert speaking_span(wav, 50, sr) == (10, 40)


@needs_espeak
def test_topline_folder_of_a_real_clip_matches_its_forced_alignment(tmp_path):
    """The topline of the shipped English clip: its phones are espeak-ng's reading of the text,
    the 50 Hz form keeps the clip's length, and its speaking span agrees with pocketsphinx's forced
    alignment of the same clip (first word start, last word end, within 100 ms), with about as many
    phones as the aligner found."""
    pytest.importorskip("pocketsphinx")
    from speechtok.audio import load_audio
    from speechtok.lm.data import iter_rows, token_folder_info
    from speechtok.lm.topline import g2p, inventory_of, write_phone_folder
    from speechtok.data.forced_align import Aligner

    clip = next(u for u in shipped_clips() if u.language == "en")
    manifest = tmp_path / "en.jsonl"
    manifest.write_text(json.dumps({"id": clip.id, "path": clip.path, "text": clip.text}) + "\n")
    dedup = write_phone_folder(manifest, tmp_path / "phones", "phones", progress=False)
    framed = write_phone_folder(manifest, tmp_path / "framed", "phones@50hz", inventory=inventory_of(dedup), progress=False)
    inv = inventory_of(dedup)
    (row,) = list(iter_rows(dedup))
    assert [inv[i] for i in row["codes"][0]] == g2p([clip.text])[0]
    assert token_folder_info(dedup)["frame_rate"] == pytest.approx(row["codes"].shape[1] / row["duration"])
    (frow,) = list(iter_rows(framed))
    codes = frow["codes"][0]
    assert abs(codes.size - round(frow["duration"] * 50)) <= 1
    dedup_framed = [int(c) for i, c in enumerate(codes) if c and (i == 0 or codes[i - 1] != c)]
    collapsed = [int(c) for i, c in enumerate(row["codes"][0]) if i == 0 or row["codes"][0][i - 1] != c]
    assert dedup_framed == collapsed  # the same phones, in order
    wav, _ = load_audio(clip.path, 16000)
    phones, words = Aligner().align(wav, clip.text)
    words = [w for w in words if not w.phone.startswith("<")]
    active = np.flatnonzero(codes)
    assert abs(active[0] / 50 - words[0].start) < 0.1 and abs((active[-1] + 1) / 50 - words[-1].end) < 0.1
    aligned = [p for p in phones if p.phone.upper() not in ("SIL", "<SIL>")]
    assert 0.75 < row["codes"].shape[1] / len(aligned) < 1.33


# ---- syntactic pairs -------------------------------------------------------------------------------
def test_syntactic_pairs_are_minimal_and_cover_every_phenomenon():
    from speechtok.lm.syntactic import PHENOMENA, build_pairs

    pairs = build_pairs(10, seed=3)
    assert pairs == build_pairs(10, seed=3) and pairs != build_pairs(10, seed=4)
    assert {p["phenomenon"] for p in pairs} == set(PHENOMENA) and len(pairs) == 10 * len(PHENOMENA)
    assert len({p["good"] for p in pairs}) == len(pairs)
    for p in pairs:
        g, b = p["good"].split(), p["bad"].split()
        assert len(g) == len(b) and g != b
        if p["phenomenon"] == "word_order":  # the same words, two neighbours swapped
            assert sorted(g) == sorted(b)
            diff = [i for i in range(len(g)) if g[i] != b[i]]
            assert len(diff) == 2 and diff[1] == diff[0] + 1
        else:  # one word differs
            assert sum(x != y for x, y in zip(g, b)) == 1
    sv = [p for p in pairs if p["phenomenon"] == "subject_verb"]
    assert all(any(w.endswith("s") for w in p["good"].split()[1:3]) for p in sv)


@needs_espeak
def test_syntactic_build_cli_speaks_both_sentences_in_every_voice(tmp_path):
    from speechtok.cli import main
    from speechtok.data.manifest import list_inputs

    out = tmp_path / "syn"
    assert main(["lm", "syntactic", "build", "--out", str(out), "--per-phenomenon", "1", "--no-progress"]) == 0
    utts = list_inputs(out / "manifest.jsonl")
    meta = json.loads((out / "meta.json").read_text())
    assert len(utts) == 6 * 2 * len(meta["voices"]) and all(Path(u.path).stat().st_size > 1000 for u in utts)
    pairs = [json.loads(x) for x in (out / "pairs.jsonl").read_text().splitlines()]
    by_id = {u.id: u.text for u in utts}
    assert by_id["en-us/00000-w"] == pairs[0]["good"] and by_id["en-us/00000-n"] == pairs[0]["bad"]


# ---- duration controls ------------------------------------------------------------------------------
def _items(outcomes, dur_w, dur_n, near=None):
    pairs = [{"pair": i, "freq_bucket": "0", "phonemes": 5} for i in range(len(outcomes))]
    meta = {"voices": ["v"], "held_out": []}
    scores = {}
    for i, (o, dw, dn) in enumerate(zip(outcomes, dur_w, dur_n)):
        scores[f"v/{i:05d}-w"] = {"bits": 1.0 if o else 2.0, "tokens": 1, "duration": dw}
        scores[f"v/{i:05d}-n"] = {"bits": 2.0 if o else 1.0, "tokens": 1, "duration": dn}
    audio = {("v", i): {"near_identical": bool(near and i in near)} for i in range(len(outcomes))}
    return item_outcomes(pairs, meta, scores, audio)


def test_a_duration_only_rule_is_caught_by_the_controls():
    """Words mostly shorter than their non-words, and an 'LM' that simply prefers the shorter
    recording: well above chance on all items, yet at chance on length-matched ones and near 50
    once the length difference is regressed out; the "pick the shorter one" row equals it."""
    rng = np.random.default_rng(0)
    n = 400
    dw = rng.uniform(0.4, 0.8, n)
    dn = dw + np.where(rng.random(n) < 0.8, 1, -1) * rng.uniform(0.0, 0.1, n)
    short = dw < dn
    # matched items (within 20 ms) get coin-flip outcomes: nothing to go by there
    matched = np.abs(dw - dn) <= MATCHED_SECONDS
    outcome = np.where(matched, rng.random(n) < 0.5, short)
    items = _items(outcome, dw, dn)
    s = lexical_summary(items)
    assert s["sum"]["all"]["acc"] > 70
    assert 40 < s["sum"]["matched"]["acc"] < 60 and s["sum"]["matched"]["n"] == int(matched.sum())
    assert 35 < s["sum"]["length_regressed"] < 65
    assert s["shorter_one"]["all"]["acc"] == pytest.approx(100 * short.mean())
    assert [i["sum"] for i in shorter_outcomes(items)] == [1.0 if x else 0.0 for x in short]


def test_a_lexical_lm_survives_the_controls():
    rng = np.random.default_rng(1)
    n = 300
    dw = rng.uniform(0.4, 0.8, n)
    dn = dw + rng.normal(0, 0.05, n)
    items = _items(np.ones(n, bool), dw, dn)
    s = lexical_summary(items)
    assert s["sum"]["all"]["acc"] == 100 and s["sum"]["matched"]["acc"] == 100 and s["sum"]["length_regressed"] > 95


def test_near_identical_pairs_and_length_mismatches_are_left_out():
    items = _items([True, True, False, True], [0.5, 0.5, 0.5, 0.5], [0.5, 0.51, 0.5, 0.6], near={2})
    kept = controlled(items)
    assert [i["pair"] for i in kept] == [0, 1]  # 2 near-identical, 3 differs by 100 ms
    assert lexical_summary(items)["controls"]["near_identical_items"] == 1


def test_recording_distance_finds_identical_and_different_recordings():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(8000).astype(np.float32) * 0.1
    assert recording_distance(a, a.copy()) == 0.0
    b = a.copy()
    b[3000:4600] = rng.standard_normal(1600) * 0.3  # a 100 ms segment replaced: a consonant swap
    assert recording_distance(a, b) > NEAR_IDENTICAL
    assert recording_distance(a, a + 1e-6) < NEAR_IDENTICAL  # a rounding-level difference
    assert recording_distance(a, a[:4000]) == float("inf")


def test_length_regression_needs_items():
    assert length_regressed(_items([True] * 5, [0.5] * 5, [0.6] * 5), "sum") is None


def test_fraction_of_topline():
    from speechtok.lm.bench import fraction_of_topline

    top = {"acc": 80.0, "ci": [75.0, 85.0]}
    assert fraction_of_topline(65.0, top) == pytest.approx(0.5)
    assert fraction_of_topline(50.0, top) == 0.0
    assert fraction_of_topline(65.0, {"acc": 53.0, "ci": [49.0, 57.0]}) is None  # the topline's margin may be 0
    assert fraction_of_topline(None, top) is None


# ---- the larger tier's reading corpus ----------------------------------------------------------------
@needs_espeak
def test_reading_corpus_reads_each_fortune_once_and_skips_what_a_voice_cannot_read(tmp_path):
    from speechtok.data.manifest import list_inputs
    from speechtok.lm.synthetic import FORTUNE_DIR, build_reading_corpus

    if not FORTUNE_DIR.exists():
        pytest.skip("Debian fortunes not installed")
    out = tmp_path / "reading"
    manifest = build_reading_corpus(out, ("espeak_en-us", "espeak_nosuchvoice"), per_voice=2, progress=False)
    utts = list_inputs(manifest)
    skipped = [json.loads(x) for x in (out / "skipped.jsonl").read_text().splitlines()]
    assert len(utts) == 2 and {u.speaker for u in utts} == {"espeak_en-us"}
    assert len(skipped) == 2 and all(s["voice"] == "espeak_nosuchvoice" for s in skipped)
    ids = [u.id.split("/")[1] for u in utts] + [f"{s['fortune']:05d}" for s in skipped]
    assert len(set(ids)) == 4  # each fortune once
    assert all(u.text and u.duration > 0.3 for u in utts)
    again = list_inputs(build_reading_corpus(out, ("espeak_en-us", "espeak_nosuchvoice"), per_voice=2, progress=False))
    assert [u.id for u in again] == [u.id for u in utts]  # resumed: the same corpus
    with pytest.raises(ValueError, match="unknown voice"):
        build_reading_corpus(out, ("no_such_engine_voice",), per_voice=1, progress=False)
