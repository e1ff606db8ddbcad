"""What defines a speech run (:class:`SpeechConfig`) and what fitting learns (:class:`SpeechState`).

Defaults were chosen on the espeak-ng corpus of ``lstmkit speech synth`` (README, "Speech
recognition"): log-mel features at 10 ms, one stride-2 convolution (so the LSTM runs at 50 frames a
second, which still leaves several frames per character of a spoken word), two bidirectional
LSTM layers of 128 units, SpecAugment while training. (Three layers of 192 took 90-240 s an epoch on
5,400 utterances on 2 cores, too slow to tune here.)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lstmkit.config import DictConfig, check_positive_ints
from lstmkit.errors import ConfigError
from lstmkit.tasks.cells import check_cell_options

TASKS = ("ctc", "keywords")
NORMALIZATIONS = ("auto", "utterance", "global")
FEATURE_KINDS = ("logmel", "mfcc")


@dataclass
class SpeechConfig(DictConfig):
    """A speech-recognition run: transcription over characters (``task="ctc"``) or one label per
    utterance (``task="keywords"``)."""

    task: str = "ctc"
    # ---- corpus: a folder of audio + labels.csv/.tsv (path,transcript[,speaker][,split]), or file-name labels
    path_column: str = "path"
    transcript_column: str = "transcript"
    speaker_column: str = "speaker"  # when present, whole speakers are held out for validation and test
    split_column: str = "split"  # when present, train/val/test per file: a fixed split
    lowercase: bool = True  # transcripts are lowercased before the alphabet is built
    # ---- features (lstmkit.data.audio_features)
    sample_rate: int = 16000
    features: str = "logmel"  # or "mfcc"
    n_mels: int = 40
    n_mfcc: int = 13
    f_max: float | None = None  # top of the mel filterbank (Hz); None: half the sample rate. 3800 for 8 kHz phone audio
    normalize: str = "auto"  # per utterance; "global" (training mean/std) for streaming models; auto picks
    # ---- SpecAugment while training (Park et al. 2019): masked spans are set to the normalised mean
    time_masks: int = 2
    time_width: float = 0.05  # each time mask covers up to this share of the utterance
    freq_masks: int = 2
    freq_width: int = 6  # each frequency mask covers up to this many features
    # ---- model
    conv_channels: int = 128  # a stride-2 convolution before the LSTM (halves the frame rate); 0 = none
    conv_kernel: int = 5
    hidden_size: int = 128
    num_layers: int = 2
    bidirectional: bool = True  # False: a streaming model (causal convolution, one direction)
    dropout: float = 0.2
    cell: str = "lstm"
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    # ---- split when the corpus has none: by speaker when it names speakers, else by file (seeded)
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    # ---- training
    epochs: int = 25
    patience: int = 8
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.0
    clip_grad_norm: float = 5.0
    seed: int = 0
    device: str = "auto"
    # ---- evaluation
    beam: int = 16  # prefix beam width reported next to best path (ctc)
    baselines: bool = True  # 1-NN DTW against one training template per word

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.features not in FEATURE_KINDS:
            raise ConfigError(f"features must be one of {', '.join(FEATURE_KINDS)}, got {self.features!r}")
        if self.normalize not in NORMALIZATIONS:
            raise ConfigError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got {self.normalize!r}")
        check_positive_ints(self, ("sample_rate", "n_mels", "n_mfcc", "conv_kernel", "hidden_size", "num_layers",
                                   "epochs", "patience", "batch_size", "beam", "freq_width"))
        for name in ("time_masks", "freq_masks", "conv_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be 0 or a positive integer, got {value!r}")
        if self.conv_kernel % 2 == 0:
            raise ConfigError(f"conv_kernel must be odd, got {self.conv_kernel}")
        self.feature_config()  # its own checks: f_max within the Nyquist frequency, n_mfcc <= n_mels, ...
        if not 0 <= self.time_width < 1:
            raise ConfigError(f"time_width must be a fraction in [0, 1), got {self.time_width!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1):
            raise ConfigError("val_fraction and test_fraction must be fractions in (0, 1) with a sum below 1, got "
                              f"{self.val_fraction} and {self.test_fraction}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr!r}")
        check_cell_options(self)

    @property
    def normalization(self) -> str:
        """The normalisation used: ``normalize``, with ``"auto"`` meaning per utterance for a bidirectional
        model and the training mean/std for a streaming one (an utterance's statistics are unknown until it ends)."""
        if self.normalize != "auto":
            return self.normalize
        return "utterance" if self.bidirectional else "global"

    def feature_config(self):
        from lstmkit.data.audio_features import FeatureConfig

        return FeatureConfig(sample_rate=self.sample_rate, n_mels=self.n_mels, f_max=self.f_max,
                             kind=self.features, n_mfcc=self.n_mfcc)


@dataclass
class SpeechState(DictConfig):
    """What fitting learned: the output labels, the feature statistics, the split."""

    alphabet: list[str]  # ctc: label k + 1 is alphabet[k]; label 0 is the CTC blank (model.BLANK)
    classes: list[str]  # keywords: the output classes in order (ctc: empty)
    mean: list[float]  # per feature, from the training part (used by normalize="global")
    std: list[float]
    corpus: str  # the training corpus as given (evaluate uses its test part when given the same corpus)
    # {"train", "val", "test": counts, "by": "speaker"|"file"|"fixed", "digest": the corpus's fingerprint,
    #  "test_files": relative paths}: evaluate recognises the training corpus and scores exactly its test files
    split: dict = field(default_factory=dict)
