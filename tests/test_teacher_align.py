"""The teacher aligner: espeak-ng phonemes to ARPAbet, and Viterbi placement of a known sequence."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from speechtok.data.phones import PHONE_TO_ID, PHONES, phone_sequence, segments_from_rows
from speechtok.data.teacher_align import (
    TeacherAlignError,
    align_manifest,
    espeak_to_arpabet,
    espeak_voice,
    espeak_words,
    viterbi_align,
)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def test_espeak_mnemonics_map_to_arpabet_as_the_voice_says_them():
    assert espeak_to_arpabet("h_@_l_'oU w_'3:_l_d", "en-us") == [["HH", "AH", "L", "OW"], ["W", "ER", "L", "D"]]
    # a rhotic voice says the r of "far" and "fire", a non-rhotic one does not; r- after ER is not doubled
    assert espeak_to_arpabet("f_'A@ f_'aI3_r-", "en-us+f3") == [["F", "AA", "R"], ["F", "AY", "ER"]]
    assert espeak_to_arpabet("f_'A@ f_'aI@_r-", "en-gb") == [["F", "AA"], ["F", "AY", "AH"]]
    # pauses (_:), linking marks and variant digits / # are not phones; syllabic l is a vowel plus l
    assert espeak_to_arpabet("I_t__:__: b_'0_t_@L a#_n r_I2_;_'a", "en-gb") == [
        ["IH", "T"], ["B", "AA", "T", "AH", "L"], ["AH", "N"], ["R", "IH", "AE"]]
    with pytest.raises(TeacherAlignError, match="no ARPAbet mapping"):
        espeak_to_arpabet("q_Y", "en-us")


def test_espeak_voice_names():
    assert espeak_voice("espeak_en-us_f3") == "en-us+f3"
    assert espeak_voice("espeak_en-gb") == "en-gb"
    assert espeak_voice("festival_kal") is None and espeak_voice(None) is None


def _peaked(labels, p=0.9):
    """log posteriors with ``p`` on each frame's label, the rest spread evenly."""
    post = np.full((len(labels), len(PHONES)), (1 - p) / (len(PHONES) - 1))
    post[np.arange(len(labels)), labels] = p
    return np.log(post)


def test_viterbi_recovers_a_known_segmentation():
    s, a, b, c = 0, PHONE_TO_ID["K"], PHONE_TO_ID["AE"], PHONE_TO_ID["T"]
    frames = [s] * 3 + [a] * 4 + [b] * 2 + [s] * 2 + [c] * 5 + [s]
    segs = viterbi_align(_peaked(frames), [["K", "AE"], ["T"]], frame=0.02)
    assert [(x.phone, x.start, x.end) for x in segs] == [
        ("SIL", 0.0, 0.06), ("K", 0.06, 0.14), ("AE", 0.14, 0.18), ("SIL", 0.18, 0.22), ("T", 0.22, 0.32),
        ("SIL", 0.32, 0.34)]


def test_viterbi_skips_silences_that_are_not_there_and_keeps_every_phone():
    a, b = PHONE_TO_ID["S"], PHONE_TO_ID["IY"]
    # the posteriors say S S IY IY but the sequence has three phones: every phone still gets a frame
    segs = viterbi_align(_peaked([a, a, b, b]), [["S"], ["IY", "Z"]])
    assert [x.phone for x in segs] == ["S", "IY", "Z"]
    assert segs[0].start == 0.0 and segs[-1].end == pytest.approx(0.08)
    assert all(x.end > x.start for x in segs)


def test_viterbi_refuses_what_cannot_fit():
    with pytest.raises(TeacherAlignError, match="cannot hold"):
        viterbi_align(_peaked([0, 0]), [["K", "AE", "T"]])
    with pytest.raises(TeacherAlignError, match="no phones"):
        viterbi_align(_peaked([0, 0]), [])
    with pytest.raises(TeacherAlignError, match="unknown phone"):
        viterbi_align(_peaked([0, 0, 0]), [["QQ"]])


@needs_espeak
def test_espeak_words_reads_the_voice_phonemes():
    assert espeak_words("hello world", "en-us") == [["HH", "AH", "L", "OW"], ["W", "ER", "L", "D"]]


@needs_espeak
def test_align_manifest_places_espeak_phones_and_resumes(tmp_path):
    from speechtok.lm.synthetic import synthesize

    wav = tmp_path / "a.wav"
    synthesize("The cat sat on the mat.", "en-us", wav)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "u1", "path": str(wav), "speaker": "espeak_en-us", "language": "en",
                                    "text": "The cat sat on the mat."}) + "\n"
                        + json.dumps({"id": "u2", "path": str(tmp_path / "missing.wav"), "speaker": "espeak_en-us",
                                      "language": "en", "text": "gone"}) + "\n")
    from speechtok.data.manifest import list_inputs
    from speechtok.syllables.phone_units import teacher_folder

    cache = tmp_path / "align.jsonl"
    rows = align_manifest(list_inputs(manifest), cache, teacher_folder("v2"), progress=False)
    assert set(rows) == {"u1"}  # the missing file is an error row, named
    lines = [json.loads(x) for x in cache.read_text().splitlines()]
    assert "missing.wav" in lines[1]["error"]
    segs = segments_from_rows(rows["u1"]["phones"])
    want = [PHONE_TO_ID[p] for w in espeak_words("The cat sat on the mat.", "en-us") for p in w]
    assert phone_sequence(segs) == want
    assert segs[-1].end <= rows["u1"]["num_samples"] / 16000 + 0.02
    align_manifest(list_inputs(manifest), cache, teacher_folder("v2"), progress=False)
    assert len(cache.read_text().splitlines()) == 2  # nothing redone


@needs_espeak
@pytest.mark.skipif(not Path("/usr/share/dict/american-english").exists(), reason="wamerican not installed")
def test_espeak_word_set_never_uses_excluded_items_and_resumes(tmp_path):
    from speechtok.data.espeak_words import build, plan_items
    from speechtok.lm.lexical import _strip

    first = plan_items(12, seed=3)
    assert {it["kind"] for it in first} == {"word", "pseudo"}
    banned = [it["word"] for it in first if it["word"]] + [it["phonemes"] for it in first]
    again = plan_items(12, exclude=banned, seed=3)
    assert not {it["word"] for it in again if it["word"]} & set(banned)
    assert not {_strip(it["phonemes"]) for it in again} & {_strip(b) for b in banned}
    from speechtok.syllables.phone_units import teacher_folder

    path = build(tmp_path / "set", 6, teacher_folder("v2"), exclude=banned, seed=3, progress=False)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert rows and all(r["error"] is None for r in rows)
    for r in rows:  # the labels are what the voice said for the phoneme string, every phone placed
        voice = r["id"].split("/")[0].replace("_", "+")
        out = subprocess.run(["espeak-ng", "-q", "-x", "--sep=_", "-v", voice, f"[[{r['phonemes']}]]"],
                             capture_output=True, text=True).stdout
        said = [p for w in espeak_to_arpabet(out, voice) for p in w]
        assert [PHONES[i] for i in phone_sequence(segments_from_rows(r["phones"]))] == said
    build(tmp_path / "set", 6, teacher_folder("v2"), exclude=banned, seed=3, progress=False)
    assert len(path.read_text().splitlines()) == len(rows)  # resumed: nothing redone
    assert len((tmp_path / "set" / "manifest.jsonl").read_text().splitlines()) == len(rows)
    # a second set that must not overlap the first: --exclude reads its alignments; --id-prefix keeps ids apart
    from speechtok.data.espeak_words import exclusions

    assert {r["phonemes"] for r in rows} <= set(exclusions(path))
    path2 = build(tmp_path / "set2", 6, teacher_folder("v2"), exclude=banned + exclusions(path), seed=3,
                  progress=False, id_prefix="w2/")
    rows2 = [json.loads(x) for x in path2.read_text().splitlines()]
    assert rows2 and all(r["id"].startswith("w2/") for r in rows2)
    assert not {r["phonemes"] for r in rows2} & {r["phonemes"] for r in rows}
    man2 = [json.loads(x) for x in (tmp_path / "set2" / "manifest.jsonl").read_text().splitlines()]
    assert {m["speaker"] for m in man2} <= {"espeak_" + v.replace("+", "_") for v in ("en-us", "en-us+f3", "en-gb", "en-gb+m1", "en-gb+f2")}
    with pytest.raises(ValueError, match="neither a lexical pair"):
        exclusions(tmp_path / "set2" / "manifest.jsonl")  # a manifest has no phoneme strings
