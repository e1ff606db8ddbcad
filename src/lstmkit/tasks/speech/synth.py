"""Speech corpora to train and test on, when no labelled speech ships in a package.

* :func:`synthesize_corpus`: words and short phrases spoken by espeak-ng (a Debian/Ubuntu/Homebrew
  package, not a Python one) over many voices: every English accent espeak-ng has, crossed with its
  voice variants, each at a random speed and pitch, with a little silence around the word and
  white noise at a random signal-to-noise ratio. Each voice is a ``speaker``, so a model is tested on
  voices it never heard.
* :func:`tone_corpus`: "words" of sine-tone syllables (each letter a pitch), for checking the whole
  pipeline where espeak-ng is missing: the labels are known exactly and a small model learns them.
* :func:`asterisk_prompts`: real recordings of one human speaker, the English prompts of the Asterisk
  PBX (Debian package ``asterisk-core-sounds-en-wav``, CC-BY-SA 3.0, 8 kHz): digits 0-20 and the tens,
  the 26 letters and the phonetic alphabet, labelled from their file names.

All write the corpus layout :mod:`lstmkit.tasks.speech.corpus` reads: audio files plus ``labels.csv``
(``path,transcript,speaker``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.debian import find_package_data, how_to_get
from lstmkit.errors import DataError, InputFileError, MissingDependencyError

__all__ = ["DEFAULT_WORDS", "NATO", "NUMBER_WORDS", "asterisk_prompts", "espeak_voices", "find_espeak",
           "synthesize_corpus", "tone_corpus", "read_wordlist", "find_asterisk_root"]

NUMBER_WORDS = {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
                9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen", 15: "fifteen",
                16: "sixteen", 17: "seventeen", 18: "eighteen", 19: "nineteen", 20: "twenty", 30: "thirty",
                40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty", 90: "ninety"}
NATO = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
        "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey",
        "xray", "yankee", "zulu"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
#: transcript -> what espeak-ng is asked to say, where the two differ.
SPOKEN = {"xray": "x-ray"}
DEFAULT_WORDS = [*NUMBER_WORDS.values(), *LETTERS, *NATO]
ENGLISH_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029",
                  "en-us-nyc")
# Variants that do not sound like a speaker (whispers, test and robot voices) are left out.
_SKIP_VARIANTS = ("whisper", "fast_test", "robot", "robosoft", "demonic", "half-life", "croak")

GET_ESPEAK = ("espeak-ng is not installed; it is a system package, not a Python one: `apt-get install espeak-ng` "
              "(Debian/Ubuntu), `dnf install espeak-ng` (Fedora) or `brew install espeak-ng` (macOS)")


def find_espeak() -> str:
    """The espeak-ng executable, or a :class:`~lstmkit.errors.MissingDependencyError` saying how to install it."""
    found = shutil.which("espeak-ng")
    if found is None:
        raise MissingDependencyError(GET_ESPEAK)
    return found


def espeak_voices(espeak: str) -> list[str]:
    """``language+variant`` for every English accent crossed with every voice variant espeak-ng lists."""
    listing = subprocess.run([espeak, "--voices=variant"], capture_output=True, text=True, check=True).stdout
    variants = ["default"]
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5 and fields[4].startswith("!v/"):
            name = fields[4][3:]
            if not any(skip in name.lower() for skip in _SKIP_VARIANTS):
                variants.append(name)
    return [f"{language}+{variant}" if variant != "default" else language
            for language in ENGLISH_VOICES for variant in sorted(set(variants))]


def read_wordlist(path: str | os.PathLike) -> list[str]:
    """One word or phrase per line (blank lines and ``#`` comments skipped), lowercased."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such word list (expected a text file, one word or phrase per line)")
    words = [" ".join(line.split("#")[0].split()).lower() for line in path.read_text(encoding="utf-8").splitlines()]
    words = [w for w in words if w]
    if not words:
        raise DataError(f"{path} holds no words")
    return words


def number_phrases(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` phrases of two to four digit words ("four two seven"), as spoken codes and PINs."""
    digits = [NUMBER_WORDS[d] for d in range(10)]
    return [" ".join(rng.choice(digits, size=int(rng.integers(2, 5)))) for _ in range(count)]


def _finish(samples: np.ndarray, sample_rate: int, rng: np.random.Generator, noise: bool) -> np.ndarray:
    """Silence around the word (50-300 ms each side) and white noise at 15-40 dB SNR."""
    before, after = (int(rng.uniform(0.05, 0.3) * sample_rate) for _ in range(2))
    samples = np.concatenate([np.zeros(before, np.float32), samples, np.zeros(after, np.float32)])
    if noise:
        power = float(np.mean(samples ** 2)) or 1e-8
        snr_db = rng.uniform(15, 40)
        samples = samples + rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), len(samples)).astype(np.float32)
    peak = float(np.abs(samples).max()) or 1.0
    return (samples * min(1.0, 0.9 / peak)).astype(np.float32)


def synthesize_corpus(out: str | os.PathLike, words: list[str] | None = None, *, voices: int = 40, phrases: int = 0,
                      sample_rate: int = 16000, seed: int = 0, noise: bool = True, workers: int = 4) -> pd.DataFrame:
    """Write every word (and ``phrases`` number phrases per voice) spoken by ``voices`` random espeak-ng voices.

    Files go to ``out/<speaker>/<k>_<transcript>.wav`` and the table to ``out/labels.csv``
    (``path,transcript,speaker``); returns the table. A voice is an accent and variant at a random
    speed (120-210 words a minute) and pitch (20-80 of espeak-ng's 0-99).
    """
    from lstmkit.data.audio import read_audio, write_audio

    espeak = find_espeak()
    words = list(words or DEFAULT_WORDS)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputFileError(f"{out} is not empty; synth writes a new corpus into a missing or empty folder")
    rng = np.random.default_rng(seed)
    available = espeak_voices(espeak)
    chosen = rng.choice(len(available), size=voices, replace=voices > len(available))
    jobs = []
    for k, index in enumerate(chosen):
        voice, speed, pitch = available[index], int(rng.integers(120, 211)), int(rng.integers(20, 81))
        speaker = f"{k:03d}_{voice.replace('+', '_')}_s{speed}_p{pitch}"
        for j, text in enumerate(words + number_phrases(phrases, rng)):
            jobs.append((speaker, voice, speed, pitch, j, text, int(rng.integers(2**31))))
    out.mkdir(parents=True, exist_ok=True)

    def speak(job):
        speaker, voice, speed, pitch, j, text, job_seed = job
        folder = out / speaker
        folder.mkdir(exist_ok=True)
        name = f"{j:04d}_{text.replace(' ', '_')}.wav"
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            subprocess.run([espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw),
                            SPOKEN.get(text, text)], check=True, capture_output=True)
            samples = read_audio(raw, sample_rate=sample_rate)  # espeak-ng writes 22,050 Hz
        samples = _finish(samples, sample_rate, np.random.default_rng(job_seed), noise)
        write_audio(folder / name, samples, sample_rate)
        return f"{speaker}/{name}", text, speaker

    with ThreadPoolExecutor(max_workers=workers) as pool:  # espeak-ng runs as a process: threads suffice
        rows = list(pool.map(speak, jobs))
    table = pd.DataFrame(rows, columns=["path", "transcript", "speaker"])
    table.to_csv(out / "labels.csv", index=False)
    return table


# ------------------------------------------------------------------------------------------ tones
TONE_LETTERS = "abcd"  # with six letters, small models often stayed on the all-blank plateau of CTC


def tone_corpus(out: str | os.PathLike, *, count: int = 200, speakers: int = 10, max_letters: int = 3,
                letters: str = TONE_LETTERS, sample_rate: int = 16000, seed: int = 0) -> pd.DataFrame:
    """Write ``count`` utterances of 1..``max_letters`` tone syllables and their transcripts.

    Letter k is a 100-180 ms tone at 300 * 1.45^k Hz (a "speaker" shifts every pitch by up to 8% and
    has its own speed), with 40-120 ms of quiet between syllables and white noise under all of it. A
    transcript is the letters in order, e.g. ``"cab"``; repeated letters are separate syllables.
    """
    from lstmkit.data.audio import write_audio

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputFileError(f"{out} is not empty; synth writes a new corpus into a missing or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    voices = [(rng.uniform(0.92, 1.08), rng.uniform(0.8, 1.2)) for _ in range(speakers)]
    rows = []
    for k in range(count):
        s = k % speakers
        shift, speed = voices[s]
        text = "".join(rng.choice(list(letters), size=int(rng.integers(1, max_letters + 1))))
        parts = [np.zeros(int(rng.uniform(0.05, 0.15) * sample_rate), np.float32)]
        for letter in text:
            n = int(rng.uniform(0.10, 0.18) * speed * sample_rate)
            t = np.arange(n) / sample_rate
            freq = 300 * 1.45 ** letters.index(letter) * shift
            envelope = np.sin(np.pi * np.arange(n) / n) ** 0.5
            parts.append((0.5 * envelope * np.sin(2 * np.pi * freq * t)).astype(np.float32))
            parts.append(np.zeros(int(rng.uniform(0.04, 0.12) * sample_rate), np.float32))
        samples = np.concatenate(parts)
        samples = (samples + rng.normal(0, 0.02, len(samples))).astype(np.float32)
        name = f"speaker{s:02d}/{k:04d}_{text}.wav"
        (out / name).parent.mkdir(exist_ok=True)
        write_audio(out / name, samples, sample_rate)
        rows.append((name, text, f"speaker{s:02d}"))
    table = pd.DataFrame(rows, columns=["path", "transcript", "speaker"])
    table.to_csv(out / "labels.csv", index=False)
    return table


# ------------------------------------------------------------------------------------------ Asterisk
ASTERISK_PACKAGE = "asterisk-core-sounds-en-wav"
ASTERISK_ROOT_ENV = "LSTMKIT_ASTERISK_ROOT"
_VOICE_DIR = Path("usr/share/asterisk/sounds/en_US_f_Allison")
GET_ASTERISK = how_to_get([ASTERISK_PACKAGE], "the real recordings", "--asterisk-root", ASTERISK_ROOT_ENV)


def find_asterisk_root(root: str | os.PathLike | None = None) -> Path:
    """The folder of the Allison prompts (``.../en_US_f_Allison``): under ``root`` (a ``dpkg -x`` directory or
    the voice folder itself), else ``$LSTMKIT_ASTERISK_ROOT``, ``<cache>/asterisk`` or ``/`` (installed)."""
    return find_package_data(root, subdir=str(_VOICE_DIR), holds=f"Asterisk prompts (no {_VOICE_DIR}/digits)",
                             option="--asterisk-root", env=ASTERISK_ROOT_ENV,
                             cache_name="asterisk", get=GET_ASTERISK,
                             looks_right=lambda folder: (folder / "digits").is_dir() and (folder / "letters").is_dir())


def asterisk_prompts(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """The prompts whose file name says what is spoken: ``path`` (absolute), ``transcript``, ``group``.

    ``digits/7.wav`` -> "seven" (0-20 and the tens), ``letters/q.wav`` -> "q", ``phonetic/q_p.wav`` ->
    "quebec"; 80 files in all.
    """
    voice = find_asterisk_root(root)
    rows = []
    for number, word in NUMBER_WORDS.items():
        rows.append((voice / "digits" / f"{number}.wav", word, "digits"))
    for letter in LETTERS:
        rows.append((voice / "letters" / f"{letter}.wav", letter, "letters"))
    for letter, word in zip(LETTERS, NATO):
        rows.append((voice / "phonetic" / f"{letter}_p.wav", word, "phonetic"))
    missing = [str(p) for p, _, _ in rows if not p.is_file()]
    if missing:
        raise InputFileError(f"{voice} lacks {len(missing)} expected prompt(s), e.g. {missing[0]}; " + GET_ASTERISK)
    return pd.DataFrame([(str(p), t, g) for p, t, g in rows], columns=["path", "transcript", "group"])


def export_asterisk(out: str | os.PathLike, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Copy the labelled prompts into ``out`` as a corpus (``out/<group>/<file>.wav`` and ``labels.csv``)."""
    table = asterisk_prompts(root)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputFileError(f"{out} is not empty; export writes a corpus into a missing or empty folder")
    rows = []
    for path, transcript, group in table.itertuples(index=False):
        target = Path(group) / Path(path).name
        (out / group).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out / target)
        rows.append((str(target), transcript, "allison"))
    corpus = pd.DataFrame(rows, columns=["path", "transcript", "speaker"])
    corpus.to_csv(out / "labels.csv", index=False)
    return corpus
