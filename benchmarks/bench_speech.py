"""Speech recognition: a BiLSTM-CTC trained on espeak-ng voices, tested on held-out voices and on a real speaker.

    python benchmarks/bench_speech.py                 # about 1.5 hours on 2 cores
    python benchmarks/bench_speech.py --quick         # a smoke run of the script (minutes)

Needs espeak-ng (``apt-get install espeak-ng``) for the training corpus, and for the real recordings the
Debian package asterisk-core-sounds-en-wav (``apt-get download asterisk-core-sounds-en-wav && dpkg -x
asterisk-core-sounds-en-wav_*.deb DIR``, then ``--asterisk-root DIR``; skipped when missing).

1. ``lstmkit speech synth`` writes the corpus: the 80 default words (digits, teens, tens, letters, the
   phonetic alphabet) and 5 random digit phrases per voice, for ``--voices`` espeak-ng voices (accent x
   variant x speed x pitch), 16 kHz, silence and noise around each word. Whole voices are held out
   for validation and test.
2. A character LM (``lstmkit text lm --level char``) is trained on text written independently of the
   corpus: the 80 words and 500 digit phrases drawn with another seed.
3. The bidirectional model (defaults; ``--f-max 3800`` so the filterbank sees the band 8 kHz phone
   audio holds) and a unidirectional (streaming) one are trained; each is scored on the held-out voices
   and on the 80 Asterisk prompts (one woman, 8 kHz), greedy, beam 16, and beam 16 with the LM, next
   to 1-NN DTW against one training template per word.
4. The streaming model transcribes every Asterisk prompt in 100 ms chunks; the script checks that each
   streamed transcript equals the offline one.
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

from lstmkit.errors import UserError
from lstmkit.runtime import set_num_threads
from lstmkit.tasks.base import train_run
from lstmkit.tasks.speech import SpeechConfig, SpeechRecognizer, StreamingTranscriber
from lstmkit.tasks.speech.synth import DEFAULT_WORDS, export_asterisk, number_phrases, synthesize_corpus


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    return path


def lm_text(path: Path) -> Path:
    rng = np.random.default_rng(99)
    lines = list(DEFAULT_WORDS) * 5 + number_phrases(500, rng)
    rng.shuffle(lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def train_lm(out: Path, quick: bool) -> Path:
    from lstmkit.tasks.text.config import LMConfig
    from lstmkit.tasks.text.language_model import LanguageModel

    text = lm_text(out / "lm.txt").read_text()
    config = LMConfig(level="char", hidden_size=128, num_layers=1, epochs=2 if quick else 100, bptt=64, batch_size=8,
                      dropout=0.1)
    train_run(LanguageModel(config), text, _fresh(out / "lm"))
    return out / "lm"


def row(name: str, m: dict) -> str:
    return f"{name:34}{m['cer']:>8.3f}{m['wer']:>8.3f}"


def report(title: str, result: dict) -> None:
    print(f"\n{title}: {result['split']['files']} files")
    print(f"{'':34}{'CER':>8}{'WER':>8}")
    for name, m in result["model"].items():
        print(row(f"LSTM {name}", m))
    for name, m in result["baselines"].items():
        print(row(name, m))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/bench-speech", type=Path)
    parser.add_argument("--voices", type=int, default=100)
    parser.add_argument("--asterisk-root", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    set_num_threads(args.threads)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    voices = 8 if args.quick else args.voices
    corpus = out / f"corpus-{voices}"
    if not (corpus / "labels.csv").is_file():
        start = time.perf_counter()
        table = synthesize_corpus(_fresh(corpus), voices=voices, phrases=5, seed=0)
        print(f"synthesised {len(table)} utterances in {time.perf_counter() - start:.0f} s")
    allison = None
    try:
        allison = out / "allison"
        if not (allison / "labels.csv").is_file():
            export_asterisk(_fresh(allison), args.asterisk_root)
    except UserError as error:
        print(f"no real recordings: {error}")
        allison = None
    start = time.perf_counter()
    lm_dir = train_lm(out, args.quick)
    print(f"character LM trained in {time.perf_counter() - start:.0f} s")

    # The README's runs: 26 epochs for the BiLSTM (its validation loss was still falling), 14 for the
    # streaming model (likewise; the machine's time ran out).
    for name, bidirectional, epochs in (("bidirectional", True, 26), ("streaming", False, 14)):
        config = SpeechConfig(f_max=3800, bidirectional=bidirectional, epochs=2 if args.quick else epochs)
        app = SpeechRecognizer(config)
        start = time.perf_counter()
        train_run(app, str(corpus), _fresh(out / name))
        seconds = time.perf_counter() - start
        lm = app.load_lm(lm_dir)
        test = app.evaluate(str(corpus), lm=lm)
        report(f"{name} model, held-out espeak-ng voices ({len(app.history)} epochs, {seconds:.0f} s training "
               f"+ evaluation)", test)
        if allison is None:
            continue
        real = app.evaluate(str(allison), lm=lm)
        report(f"{name} model, real speaker (Asterisk prompts, 8 kHz)", real)
        frame = real["predictions"]
        groups = frame["path"].map(lambda p: Path(p).parent.name)
        print("words right with beam + LM: " + ", ".join(
            f"{group} {(part['transcript'] == part['beam_lm']).mean():.0%}" for group, part in frame.groupby(groups)))
        if not bidirectional:
            from lstmkit.data.audio import read_audio_blocks
            from lstmkit.tasks.speech.corpus import read_corpus

            held_out = read_corpus(str(corpus), config)
            test_files = set(app.state.split["test_files"])
            paths = sorted(allison.rglob("*.wav")) + [held_out.paths[i] for i in range(len(held_out))
                                                      if held_out.relative(i) in test_files][:200]
            offline = app.transcribe(paths)
            equal, audio, start = 0, 0.0, time.process_time()
            for path, expected in zip(paths, offline):
                stream = StreamingTranscriber(app)
                for chunk in read_audio_blocks(path, config.sample_rate, block_samples=config.sample_rate // 10):
                    audio += len(chunk) / config.sample_rate
                    stream.push(chunk)
                equal += stream.text == expected
            cpu = time.process_time() - start
            print(f"streaming in 100 ms chunks: {equal} of {len(paths)} transcripts equal the offline ones; "
                  f"{cpu / audio:.3f} s of CPU per second of audio")


if __name__ == "__main__":
    main()
