"""Speech recognition: :class:`SpeechRecognizer` turns audio into text (CTC) or into one label per utterance.

Fit
---
1. Read the corpus (:mod:`lstmkit.tasks.speech.corpus`) and every file (any rate, resampled to
   ``sample_rate``), and compute log-mel (or MFCC) features once (:mod:`lstmkit.data.audio_features`).
2. Split: the corpus's own ``split`` column; else whole speakers held out (seeded), so that the test
   part is voices the model never heard; else files at random.
3. Normalise: each utterance by its own mean and deviation per feature, or, for a streaming model
   (whose utterance has not ended when it must answer), by the training part's.
4. Train :class:`~lstmkit.tasks.speech.model.SpeechNet` with the CTC loss (or cross-entropy for
   keywords) and SpecAugment, early stopping on the validation loss.

Evaluate
--------
Character and word error rates (CER, WER: edits / reference length over the whole part) of best-path
and prefix-beam decoding (:mod:`lstmkit.decoding.ctc`), optionally with a character language model,
next to 1-NN DTW against one training template per distinct transcript, on the same files.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from lstmkit.errors import DataError
from lstmkit.files import atomic_write_text
from lstmkit.runtime import seed_everything
from lstmkit.tasks.base import Application
from lstmkit.tasks.speech.config import SpeechConfig, SpeechState
from lstmkit.tasks.speech.corpus import Corpus, read_corpus, split_corpus
from lstmkit.tasks.speech.model import BLANK
from lstmkit.train import TrainConfig

logger = logging.getLogger(__name__)

__all__ = ["SpeechRecognizer"]

BATCH = 64  # utterances per inference batch


class _Transcribed(torch.utils.data.Dataset):
    """Feature sequences with their CTC label sequences, for :func:`_collate_ctc`."""

    def __init__(self, features: list[torch.Tensor], labels: list[list[int]]):
        self.features, self.labels = features, labels

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i):
        return self.features[i], torch.as_tensor(self.labels[i], dtype=torch.long)


def _collate_ctc(batch):
    """``((features, lengths), (labels, label_lengths))``, both padded, as the Trainer splits inputs from targets."""
    from lstmkit.data.padding import pad_sequences

    x, lengths = pad_sequences([f for f, _ in batch])
    labels, label_lengths = pad_sequences([t for _, t in batch])
    return (x, lengths), (labels, label_lengths)


def _corpus_name(data) -> str:
    """How the state records a corpus: its absolute path (so that ``evaluate`` recognises the training corpus)."""
    return str(Path(data).resolve()) if isinstance(data, (str, Path)) else "files"


class SpeechRecognizer(Application):
    """Fit, evaluate, transcribe, save and load a speech model on a corpus (see the module docstring).

    >>> app = SpeechRecognizer(SpeechConfig(epochs=30)).fit("corpus/")        # doctest: +SKIP
    >>> app.transcribe(["hello.wav"], beam=16)                                 # doctest: +SKIP
    """

    name = "speech"
    config_class = SpeechConfig
    state_class = SpeechState
    description = "a speech model"
    train_command = "lstmkit speech train"

    # ---- input -----------------------------------------------------------------------------------
    def read_labelled(self, data) -> Corpus:
        """The corpus ``data`` with a transcript for every file (training and evaluation need them)."""
        corpus = read_corpus(data, self.config)
        if not len(corpus):
            raise DataError(f"{corpus.source} holds no audio files")
        if not all(corpus.transcripts):
            raise DataError(f"{corpus.source}: no transcripts; training and evaluation need a labels.csv/.tsv "
                            "(path,transcript) or file names that say what is spoken")
        return corpus

    def check_input(self, data) -> None:
        corpus = self.read_labelled(data)
        split_corpus(corpus, self.config)  # refuses a corpus too small to split

    def read_waves(self, paths: list[Path]) -> list[np.ndarray]:
        """Every file as float32 mono samples at the configured rate."""
        from lstmkit.data.audio import read_audio

        return [read_audio(p, sample_rate=self.config.sample_rate) for p in paths]

    def raw_features(self, waves: list[np.ndarray], paths: list[Path]) -> list[torch.Tensor]:
        """Unnormalised features (T, F) per waveform; a file too short for two analysis frames is refused."""
        from lstmkit.data.audio_features import features

        feature_config = self.config.feature_config()
        out = []
        for wave, path in zip(waves, paths):
            feats = features(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), feature_config)
            if len(feats) < 2:
                raise DataError(f"{path}: {len(wave) / feature_config.sample_rate * 1000:.0f} ms of audio, shorter "
                                f"than two analysis frames ({feature_config.win_ms + feature_config.hop_ms:g} ms)")
            out.append(feats)
        return out

    def normalise(self, feats: torch.Tensor) -> torch.Tensor:
        """One utterance's features (T, F) as the network reads them."""
        if self.config.normalization == "utterance":
            from lstmkit.data.audio_features import normalize_utterance

            return normalize_utterance(feats)
        mean = torch.as_tensor(self.state.mean, dtype=feats.dtype, device=feats.device)
        std = torch.as_tensor(self.state.std, dtype=feats.dtype, device=feats.device)
        return (feats - mean) / std

    def features_of_files(self, paths: list[Path], *, normalised: bool = True) -> list[torch.Tensor]:
        """Each file's features as the network reads them (``normalised=False``: before normalisation)."""
        paths = [Path(p) for p in paths]
        feats = self.raw_features(self.read_waves(paths), paths)
        return [self.normalise(f) for f in feats] if normalised else feats

    def encode(self, transcript: str, where: str) -> list[int]:
        """A transcript as CTC labels (1-based indices into the alphabet); characters outside it are refused."""
        index = {c: k + 1 for k, c in enumerate(self.state.alphabet)}
        unknown = sorted({c for c in transcript if c not in index})
        if unknown:
            raise DataError(f"{where}: transcript {transcript!r} has character(s) {unknown} outside the model's "
                            f"alphabet {''.join(self.state.alphabet)!r}")
        return [index[c] for c in transcript]

    def decode_labels(self, labels: list[int]) -> str:
        return "".join(self.state.alphabet[k - 1] for k in labels)

    # ---- fit -------------------------------------------------------------------------------------
    def fit(self, data, *, run_dir: str | Path | None = None, resume: bool = False) -> "SpeechRecognizer":
        """Fit the feature statistics, the labels and the network on the training part (see the module docstring)."""
        from lstmkit.data.audio_features import fit_feature_stats
        from lstmkit.tasks.speech.model import SpeechNet, ctc_loss

        cfg = self.config
        corpus = self.read_labelled(data)
        train, val, test, how = split_corpus(corpus, cfg)
        feats = self.features_of_files(corpus.paths, normalised=False)
        if cfg.task == "ctc":
            # Characters are output labels, not audio: the whole corpus's are known, so that a character seen
            # only in the test part is an error of the model, not a failure of the run.
            alphabet, classes = sorted(set("".join(corpus.transcripts))), []
        else:
            alphabet, classes = [], sorted({corpus.transcripts[i] for i in train})
        mean, std = fit_feature_stats([feats[i] for i in train])
        self.state = SpeechState(
            alphabet=alphabet, classes=classes, mean=[float(v) for v in mean], std=[float(v) for v in std],
            corpus=_corpus_name(data),
            split={"train": int(len(train)), "val": int(len(val)), "test": int(len(test)), "by": how,
                   "seed": cfg.seed, "digest": corpus.digest(),
                   "test_files": sorted(corpus.relative(i) for i in test)})
        fit_rows = np.concatenate([train, val])
        targets = self._targets(corpus, fit_rows)
        if cfg.task == "ctc":
            self._check_ctc_lengths(corpus, fit_rows, feats, targets)
        x = [self.normalise(feats[i]) for i in fit_rows]
        seed_everything(cfg.seed)
        model = SpeechNet(cfg.task, input_size=x[0].shape[1],
                          num_outputs=1 + len(alphabet) if cfg.task == "ctc" else len(classes),
                          hidden_size=cfg.hidden_size, num_layers=cfg.num_layers, bidirectional=cfg.bidirectional,
                          conv_channels=cfg.conv_channels, conv_kernel=cfg.conv_kernel, dropout=cfg.dropout,
                          cell=cfg.cell, recurrent_dropout=cfg.recurrent_dropout, zoneout=cfg.zoneout,
                          time_masks=cfg.time_masks, time_width=cfg.time_width, freq_masks=cfg.freq_masks,
                          freq_width=min(cfg.freq_width, x[0].shape[1]))
        train_config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adam", lr=cfg.lr,
                                   weight_decay=cfg.weight_decay, clip_grad_norm=cfg.clip_grad_norm,
                                   patience=cfg.patience, restore_best=True, monitor="val_loss", mode="min",
                                   seed=cfg.seed, device=cfg.device, progress=False)
        loss = ctc_loss if cfg.task == "ctc" else F.cross_entropy
        n_train = len(train)
        self.train_model(model, loss, train_config, self._loader(x[:n_train], targets[:n_train], shuffle=True),
                         self._loader(x[n_train:], targets[n_train:], shuffle=False), run_dir=run_dir, resume=resume)
        return self

    def _targets(self, corpus: Corpus, rows: np.ndarray) -> list:
        """CTC label lists (ctc) or class indices (keywords) of ``rows``; a label the model lacks is refused."""
        if self.config.task == "ctc":
            return [self.encode(corpus.transcripts[i], str(corpus.paths[i])) for i in rows]
        missing = [i for i in rows if corpus.transcripts[i] not in self.state.classes]
        if missing:
            raise DataError(f"{corpus.paths[missing[0]]}: label {corpus.transcripts[missing[0]]!r} is not among the "
                            f"training classes ({len(missing)} such file(s))")
        return [self.state.classes.index(corpus.transcripts[i]) for i in rows]

    def _check_ctc_lengths(self, corpus: Corpus, rows: np.ndarray, feats: list[torch.Tensor], targets: list) -> None:
        """Refuse an utterance too short for its transcript: CTC needs a frame per label plus a blank between
        repeated labels ("ee"), or its loss is infinite and the utterance teaches nothing."""
        from lstmkit.tasks.speech.model import conv_lengths

        for i, labels in zip(rows, targets):
            need = len(labels) + sum(a == b for a, b in zip(labels, labels[1:]))
            have = int(conv_lengths(torch.tensor(len(feats[i])), bool(self.config.conv_channels)))
            if have < need:
                raise DataError(f"{corpus.paths[i]}: {have} network frames ({len(feats[i]) * self.config.feature_config().hop_ms:g} ms of frames) cannot hold the "
                                f"{need} CTC steps of {corpus.transcripts[i]!r}; the audio is too short for its "
                                "transcript (or the transcript belongs to another file)")

    def _loader(self, x: list[torch.Tensor], targets: list, *, shuffle: bool):
        from lstmkit.data.padding import LabelledSequences, collate_labelled

        generator = torch.Generator().manual_seed(self.config.seed)
        if self.config.task == "ctc":
            dataset, collate = _Transcribed(x, targets), _collate_ctc
        else:
            dataset, collate = LabelledSequences(x, targets), collate_labelled
        return torch.utils.data.DataLoader(dataset, batch_size=self.config.batch_size, shuffle=shuffle,
                                           collate_fn=collate, generator=generator)

    # ---- prediction ------------------------------------------------------------------------------
    @torch.no_grad()
    def network_outputs(self, feats: list[torch.Tensor]) -> list[np.ndarray]:
        """Per utterance (normalised features): CTC log-probabilities (T', 1 + V) or class log-probabilities (C,)."""
        from lstmkit.data.padding import pad_sequences

        self.require_fitted()
        model = self.model.eval()
        device = next(model.parameters()).device
        out: list[np.ndarray] = []
        for start in range(0, len(feats), BATCH):
            x, lengths = pad_sequences(feats[start:start + BATCH])
            result = model((x.to(device), lengths.to(device)))
            if self.config.task == "ctc":
                log_probs, out_lengths = result
                out += [log_probs[i, : int(out_lengths[i])].double().cpu().numpy() for i in range(len(lengths))]
            else:
                out += list(torch.log_softmax(result.double(), -1).cpu().numpy())
        return out

    def decode(self, outputs: list[np.ndarray], *, beam: int = 1, lm=None, lm_weight: float = 0.5,
               insertion_bonus: float = 0.0) -> list[str]:
        """Text of each utterance's network output: best path (``beam=1`` and no LM) or prefix beam search."""
        from lstmkit.decoding.ctc import ctc_best_path, ctc_prefix_beam_search

        if self.config.task == "keywords":
            return [self.state.classes[int(np.argmax(o))] for o in outputs]
        texts = []
        for o in outputs:
            if beam == 1 and lm is None:
                labels = ctc_best_path(o, blank=BLANK)
            else:
                labels = ctc_prefix_beam_search(o, beam=beam, blank=BLANK, lm=lm, lm_weight=lm_weight,
                                                insertion_bonus=insertion_bonus)[0][0]
            texts.append(self.decode_labels(list(labels)))
        return texts

    def transcribe(self, paths, *, beam: int = 1, lm=None, lm_weight: float = 0.5,
                   insertion_bonus: float = 0.0) -> list[str]:
        """The text (or keyword) of each audio file."""
        self.require_fitted()
        paths = [Path(p) for p in paths]
        outputs = self.network_outputs(self.features_of_files(paths))
        return self.decode(outputs, beam=beam, lm=lm, lm_weight=lm_weight, insertion_bonus=insertion_bonus)

    def load_lm(self, directory):
        """A character LSTM language model trained by ``lstmkit text lm --level char``, for beam-search fusion."""
        from lstmkit.decoding.label_lm import CharLM
        from lstmkit.tasks.text.language_model import LanguageModel

        return CharLM(LanguageModel.load(directory), [None, *self.state.alphabet], blank=BLANK)

    # ---- evaluation ------------------------------------------------------------------------------
    def evaluation_rows(self, corpus: Corpus, part: str | None) -> tuple[np.ndarray, str]:
        """The files to score and which part they are: the training split's test files when ``corpus`` is
        the training corpus (the same files and transcripts, wherever it is named from) and ``part`` is
        not "all"; every file of any other corpus."""
        if part not in (None, "test", "all"):
            raise DataError(f"part must be 'test' or 'all', got {part!r}")
        same = corpus.digest() == self.state.split.get("digest")
        if part == "all" or (part is None and not same):
            return np.arange(len(corpus)), "all"
        if same:
            test_files = set(self.state.split["test_files"])
            return np.array([i for i in range(len(corpus)) if corpus.relative(i) in test_files], dtype=int), "test"
        return split_corpus(corpus, self.config)[2], "test"  # another corpus, split as training would split it

    def evaluate(self, data, *, part: str | None = None, beam: int | None = None, lm=None, lm_weight: float = 0.5,
                 insertion_bonus: float = 0.0, baselines: bool | None = None) -> dict:
        """CER/WER of the model's decodings and of the DTW baseline on one part of ``data``.

        ``part``: "test" (the training split's test part: the default for the training corpus) or "all"
        (the default for any other corpus, e.g. real recordings of a speaker the model never heard).
        Returns ``{"model": {"greedy": {"cer", "wer"}, "beam": {...}[, "beam_lm"]}, "baselines":
        {"dtw_template": {...}}, "split": {...}, "predictions": DataFrame}`` (keywords: ``model`` holds
        accuracy, cer and wer directly).
        """
        from lstmkit.metrics.speech import cer, wer

        self.require_fitted()
        corpus = self.read_labelled(data)
        rows, part = self.evaluation_rows(corpus, part)
        refs = [corpus.transcripts[i] for i in rows]
        if self.config.task == "ctc":
            for i in rows:  # characters outside the alphabet: one clear line
                self.encode(corpus.transcripts[i], str(corpus.paths[i]))
        x = self.features_of_files([corpus.paths[i] for i in rows])
        outputs = self.network_outputs(x)

        def scores(hyps):
            return {"cer": cer(refs, hyps), "wer": wer(refs, hyps)}

        predictions = pd.DataFrame({"path": [str(corpus.paths[i]) for i in rows], "transcript": refs})
        if self.config.task == "ctc":
            greedy = self.decode(outputs)
            width = beam or self.config.beam
            beamed = self.decode(outputs, beam=width)
            model = {"greedy": scores(greedy), "beam": {**scores(beamed), "width": width}}
            predictions["greedy"], predictions["beam"] = greedy, beamed
            if lm is not None:
                fused = self.decode(outputs, beam=width, lm=lm, lm_weight=lm_weight, insertion_bonus=insertion_bonus)
                model["beam_lm"] = {**scores(fused), "width": width, "lm_weight": lm_weight,
                                    "insertion_bonus": insertion_bonus}
                predictions["beam_lm"] = fused
        else:
            hyps = self.decode(outputs)
            model = {"accuracy": float(np.mean([h == r for h, r in zip(hyps, refs)])), **scores(hyps)}
            predictions["predicted"] = hyps
        result = {"model": model, "baselines": {}}
        if self.config.baselines if baselines is None else baselines:
            self._dtw_baseline(corpus, part, x, refs, scores, result, predictions)
        result["split"] = {key: value for key, value in self.state.split.items() if key != "test_files"}
        result["split"].update(evaluated=part, files=int(len(rows)), corpus=corpus.source)
        result["predictions"] = predictions
        return result

    def _dtw_baseline(self, corpus, part, x, refs, scores, result, predictions) -> None:
        """1-NN DTW against one template per transcript of the training part (of the training corpus, read
        again when another corpus is evaluated; skipped with a warning when it is gone)."""
        from lstmkit.tasks.speech.baselines import dtw_template_baseline

        if part == "test":
            training = corpus
        elif Path(self.state.corpus).exists():
            training = self.read_labelled(self.state.corpus)
        else:
            logger.warning("the training corpus %s is gone: no DTW templates, no baseline", self.state.corpus)
            return
        hyps, info = dtw_template_baseline(self, training, split_corpus(training, self.config)[0], x)
        result["baselines"]["dtw_template"] = {**scores(hyps), **info}
        if self.config.task == "keywords":
            result["baselines"]["dtw_template"]["accuracy"] = float(np.mean([h == r for h, r in zip(hyps, refs)]))
        predictions["dtw_template"] = hyps

    # ---- run directory ---------------------------------------------------------------------------
    def write_results(self, out: Path, result: dict, data) -> None:
        """``predictions.csv`` (every test file, its transcript, each decoding's and the baseline's text) and
        ``alphabet.txt`` (one output label per line with its index: 0 is the CTC blank)."""
        predictions = result.pop("predictions")
        atomic_write_text(out / "predictions.csv", predictions.to_csv(index=False))
        labels = ["<blank>", *self.state.alphabet] if self.config.task == "ctc" else self.state.classes
        atomic_write_text(out / "alphabet.txt", "".join(f"{k}\t{'<space>' if c == ' ' else c}\n"
                                                       for k, c in enumerate(labels)))
