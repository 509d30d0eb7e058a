"""Text -> phones: normalization (numbers, abbreviations) then espeak-ng's phonemes.

Rules and lexicon, named so a user knows what reads their text:

- Numbers: integers, decimals, ordinals (``1st``, ``2nd``, ``3e``, ``4º``), percentages and
  currency amounts (``$5``, ``5 €``) become words with ``num2words`` in the voice's language.
- Abbreviations: a small table per language (``ABBREVIATIONS``: Mr., Dr., St., etc.).
- Phonemes: espeak-ng (its own lexicon and letter-to-sound rules for each language:
  ``espeak-ng --ipa --sep=_ -v LANG``), clause by clause; the punctuation between clauses
  becomes a pause symbol (``,`` short, ``.`` / ``?`` / ``!`` long), so phrasing survives.

A phone sequence is a list of symbols: espeak-ng's IPA phones with the stress marks split off
(``ˈ``, ``ˌ``), ``_`` between words, and the pause symbols; ``^`` starts and ``$`` ends it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from functools import lru_cache

from ..errors import MissingDependencyError, SpeechtokError


#: bump when the rules change what phones a text gives (cached training data is rebuilt)
FRONTEND_VERSION = 1


class TextError(SpeechtokError, ValueError):
    """Text a voice cannot read: empty, characters outside any alphabet, phones it never learned."""


BOS, EOS, WORD, SHORT_PAUSE, LONG_PAUSE, QUESTION = "^", "$", "_", ",", ".", "?"
STRESS = ("ˈ", "ˌ")
SPECIAL = (BOS, EOS, WORD, SHORT_PAUSE, LONG_PAUSE, QUESTION)

#: espeak-ng voice of each corpus language (anything else is passed to espeak-ng as is)
ESPEAK_VOICES = {"en": "en-us", "es": "es", "fr": "fr-fr", "it": "it", "ru": "ru", "cs": "cs", "fi": "fi",
                 "ca": "ca", "de": "de", "pt": "pt", "nl": "nl", "pl": "pl"}

ABBREVIATIONS = {
    "en": {"mr.": "mister", "mrs.": "missus", "ms.": "miz", "dr.": "doctor", "st.": "saint", "jr.": "junior",
           "sr.": "senior", "vs.": "versus", "etc.": "et cetera", "e.g.": "for example", "i.e.": "that is",
           "no.": "number", "approx.": "approximately", "min.": "minutes", "sec.": "seconds", "ft.": "feet"},
    "es": {"sr.": "señor", "sra.": "señora", "srta.": "señorita", "dr.": "doctor", "dra.": "doctora",
           "etc.": "etcétera", "ud.": "usted", "uds.": "ustedes", "núm.": "número"},
    "fr": {"m.": "monsieur", "mme": "madame", "mlle": "mademoiselle", "dr": "docteur", "etc.": "et cetera",
           "n°": "numéro", "st": "saint", "ste": "sainte"},
    "it": {"sig.": "signor", "sig.ra": "signora", "dott.": "dottore", "ecc.": "eccetera", "n.": "numero"},
    "ru": {"т.е.": "то есть", "т.д.": "так далее", "г.": "год", "руб.": "рублей"},
}

_CURRENCY = {"$": {"en": "dollars", "es": "dólares", "fr": "dollars", "it": "dollari", "ru": "долларов"},
             "€": {"en": "euros", "es": "euros", "fr": "euros", "it": "euro", "ru": "евро"},
             "£": {"en": "pounds", "es": "libras", "fr": "livres", "it": "sterline", "ru": "фунтов"}}
#: keypad and other symbols read as words (telephone prompts say "press star")
_SYMBOLS = {"*": {"en": "star", "es": "asterisco", "fr": "étoile", "it": "asterisco", "ru": "звёздочка"},
            "#": {"en": "pound", "es": "almohadilla", "fr": "dièse", "it": "cancelletto", "ru": "решётка"},
            "&": {"en": "and", "es": "y", "fr": "et", "it": "e", "ru": "и"},
            "@": {"en": "at", "es": "arroba", "fr": "arobase", "it": "chiocciola", "ru": "собака"},
            "+": {"en": "plus", "es": "más", "fr": "plus", "it": "più", "ru": "плюс"}}
_PERCENT = {"en": "percent", "es": "por ciento", "fr": "pour cent", "it": "per cento", "ru": "процентов"}
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th|º|ª|°|er|e|ème|re|o|a)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?!\w)")
_CLAUSE = re.compile(r"([,;:]|[.!?]+|\s[-–—]\s|\n)")
#: punctuation a text may carry (it shapes pauses or is silent)
_ALLOWED_PUNCT = set(".,;:!?¡¿'\"’‘“”«»()-–—/&%$€£°º…*#@+")


def _lang(language: str) -> str:
    return language.lower().replace("_", "-").split("-")[0]


def _num2words(n, lang: str, to: str = "cardinal") -> str:
    try:
        from num2words import num2words
    except ImportError:
        raise MissingDependencyError("text normalization needs num2words: pip install 'speechtok[tts]'") from None
    try:
        return num2words(n, lang=lang, to=to)
    except (NotImplementedError, KeyError, OverflowError):
        return num2words(n, lang="en", to=to) if lang != "en" else str(n)


def normalize_text(text: str, language: str = "en") -> str:
    """Expand abbreviations, currency, percentages, ordinals and numbers into words; collapse spaces."""
    lang = _lang(language)
    t = unicodedata.normalize("NFC", text).replace("\u00a0", " ")
    for abbr, full in ABBREVIATIONS.get(lang, {}).items():
        t = re.sub(rf"(?<!\w){re.escape(abbr)}(?=\s|$)", full, t, flags=re.IGNORECASE)
    for sym, words in _CURRENCY.items():
        unit = words.get(lang, words["en"])
        t = re.sub(rf"{re.escape(sym)}\s?(\d[\d,]*(?:\.\d+)?)", rf"\1 {unit}", t)
        t = re.sub(rf"(\d[\d,]*(?:\.\d+)?)\s?{re.escape(sym)}", rf"\1 {unit}", t)
    for sym, words in _SYMBOLS.items():
        t = t.replace(sym, f" {words.get(lang, words['en'])} ")
    t = re.sub(r"(\d)\s?%", rf"\1 {_PERCENT.get(lang, 'percent')}", t)
    t = _ORDINAL.sub(lambda m: _num2words(int(m.group(1)), lang, "ordinal"), t)

    def number(m):
        whole = int(m.group(1).replace(",", ""))
        if m.group(2):
            return _num2words(float(f"{whole}.{m.group(2)}"), lang)
        return _num2words(whole, lang)

    t = _NUMBER.sub(number, t)
    t = re.sub(r"\s+([,.;:!?])", r"\1", t)
    return re.sub(r"\s+", " ", t).strip()


def check_characters(text: str, where: str = "text") -> None:
    """Refuse characters that are neither letters, marks, digits, spaces nor ordinary punctuation."""
    for i, ch in enumerate(text):
        cat = unicodedata.category(ch)
        if cat[0] in "LMN" or ch.isspace() or ch in _ALLOWED_PUNCT:
            continue
        name = unicodedata.name(ch, f"U+{ord(ch):04X}")
        raise TextError(f"{where}: cannot read character {ch!r} ({name}) at position {i}")


def espeak_binary() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise MissingDependencyError("the TTS front end needs espeak-ng: apt-get install espeak-ng")
    return exe


@lru_cache(maxsize=4096)
def _espeak_phones(chunk: str, voice: str) -> tuple[str, ...]:
    """One clause -> phone symbols with ``_`` between words (no pauses)."""
    out = subprocess.run([espeak_binary(), "-q", "--ipa", "--sep=_", "-v", voice, chunk],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise TextError(f"espeak-ng failed on {chunk!r} (voice {voice}): {out.stderr.strip()[:200]}")
    phones: list[str] = []
    for word in out.stdout.split():
        if phones:
            phones.append(WORD)
        for p in word.split("_"):
            p = p.strip()
            while p and p[0] in STRESS:
                phones.append(p[0])
                p = p[1:]
            if p:
                phones.append(p)
    return tuple(phones)


def _pause(phones: list[str], punct: str) -> bool:
    """Append the pause symbol of the punctuation ending a clause (none after another pause or at
    the start); True when one was appended."""
    if len(phones) <= 1 or phones[-1] in (SHORT_PAUSE, LONG_PAUSE, QUESTION) or not punct:
        return False
    phones.append(LONG_PAUSE if punct[0] in ".!…" else QUESTION if punct[0] == "?" else SHORT_PAUSE)
    return True


def phonemize(text: str, language: str = "en", normalize: bool = True) -> list[str]:
    """Text -> phone symbols (``^ ... $``), clause by clause; raises TextError on empty text or
    characters no voice reads."""
    if not isinstance(text, str) or not text.strip():
        raise TextError("text is empty: give at least one word")
    check_characters(text)
    if normalize:
        text = normalize_text(text, language)
    voice = ESPEAK_VOICES.get(_lang(language), language)
    phones = [BOS]
    parts = _CLAUSE.split(text)
    for k in range(0, len(parts), 2):
        chunk = re.sub(r"[\"“”«»()¡¿]", " ", parts[k]).strip()
        punct = parts[k + 1].strip() if k + 1 < len(parts) else ""
        if chunk and re.search(r"\w", chunk):
            phones += _espeak_phones(chunk, voice)
        _pause(phones, punct)
    if len(phones) == 1:
        raise TextError(f"text {text[:60]!r} has no words to speak")
    if phones[-1] not in (LONG_PAUSE, QUESTION):
        phones.append(LONG_PAUSE)
    phones.append(EOS)
    return phones


def phonemize_words(text: str, language: str = "en") -> tuple[list[str], list[int], list[str]]:
    """The ``words`` front end of voices whose durations come from forced alignment (English):
    the text normalized as ``phonemize`` does, then clause by clause into the words pocketsphinx
    aligns (flite's reading: ``data.forced_align.normalize_text``), each word phonemized on its own by
    espeak-ng, pauses at punctuation as in ``phonemize``. Returns (phones, the word index of each
    phone (-1: ``^ $ _`` and pauses), the words)."""
    from ..data.forced_align import normalize_text as flite_words

    if _lang(language) != "en":
        raise TextError(f"the words front end (pocketsphinx alignment) reads English only, not {language!r}")
    if not isinstance(text, str) or not text.strip():
        raise TextError("text is empty: give at least one word")
    check_characters(text)
    text = normalize_text(text, language)
    voice = ESPEAK_VOICES["en"]
    phones, index, words = [BOS], [-1], []
    parts = _CLAUSE.split(text)
    for k in range(0, len(parts), 2):
        chunk = re.sub(r"[\"“”«»()¡¿]", " ", parts[k]).strip()
        punct = parts[k + 1].strip() if k + 1 < len(parts) else ""
        for w in (flite_words(chunk) if chunk and re.search(r"\w", chunk) else []):
            if words and phones[-1] not in (SHORT_PAUSE, LONG_PAUSE, QUESTION):
                phones.append(WORD)
                index.append(-1)
            wp = _espeak_phones(w, voice)
            phones += wp
            index += [len(words)] * len(wp)
            words.append(w)
        if _pause(phones, punct):
            index.append(-1)
    if not words:
        raise TextError(f"text {text[:60]!r} has no words to speak")
    if phones[-1] not in (LONG_PAUSE, QUESTION):
        phones.append(LONG_PAUSE)
        index.append(-1)
    phones.append(EOS)
    index.append(-1)
    return phones, index, words


FRONTENDS = ("espeak", "words")


def phonemize_with(frontend: str, text: str, language: str = "en") -> list[str]:
    """Phones of ``text`` by a voice's front end: ``espeak`` (``phonemize``) or ``words``."""
    if frontend == "words":
        return phonemize_words(text, language)[0]
    return phonemize(text, language)


class PhoneSet:
    """Phone symbol <-> id; id 0 is padding."""

    def __init__(self, symbols: list[str]):
        self.symbols = ["<pad>"] + [s for s in dict.fromkeys(symbols) if s != "<pad>"]
        self.index = {s: i for i, s in enumerate(self.symbols)}

    @classmethod
    def from_sequences(cls, seqs) -> "PhoneSet":
        seen = set(SPECIAL)
        for s in seqs:
            seen.update(s)
        return cls(list(SPECIAL) + sorted(seen - set(SPECIAL)))

    def __len__(self) -> int:
        return len(self.symbols)

    def ids(self, phones: list[str], where: str = "text") -> list[int]:
        unknown = sorted({p for p in phones if p not in self.index})
        if unknown:
            raise TextError(f"{where}: phone(s) {' '.join(unknown)} never occur in this voice's training data "
                            f"(another language or accent?); known: {' '.join(self.symbols[1:])}")
        return [self.index[p] for p in phones]
