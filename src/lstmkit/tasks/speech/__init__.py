"""Speech recognition: a (bi)LSTM over log-mel features with CTC over characters, or keyword labels.

* :mod:`lstmkit.tasks.speech.corpus`: what the command reads (a folder with labels.csv, file-name labels)
  and how it is split (held-out speakers);
* :mod:`lstmkit.tasks.speech.model`: :class:`SpeechNet` (stride-2 convolution, stacked LSTM, CTC head);
* :mod:`lstmkit.tasks.speech.app`: :class:`SpeechRecognizer` (fit, evaluate, transcribe, save/load);
* :mod:`lstmkit.tasks.speech.stream`: chunk-by-chunk transcription with carried state;
* :mod:`lstmkit.tasks.speech.baselines`: 1-NN DTW against one template per word;
* :mod:`lstmkit.tasks.speech.synth`: espeak-ng corpora, tone corpora, the Asterisk prompts (real speech).

Audio and features live in :mod:`lstmkit.data.audio` and :mod:`lstmkit.data.audio_features`, CTC
decoding in :mod:`lstmkit.decoding.ctc`, CER/WER in :mod:`lstmkit.metrics.speech`.

A run directory is written by :func:`lstmkit.tasks.base.train_run`::

    config.json  model.safetensors  history.csv  metrics.json  predictions.csv  alphabet.txt
"""
from typing import TYPE_CHECKING

from lstmkit.lazy import lazy_exports

if TYPE_CHECKING:
    from lstmkit.tasks.speech.app import SpeechRecognizer
    from lstmkit.tasks.speech.config import SpeechConfig, SpeechState
    from lstmkit.tasks.speech.model import SpeechNet
    from lstmkit.tasks.speech.stream import StreamingTranscriber

_WHERE = {
    "SpeechConfig": "lstmkit.tasks.speech.config",
    "SpeechNet": "lstmkit.tasks.speech.model",
    "SpeechRecognizer": "lstmkit.tasks.speech.app",
    "SpeechState": "lstmkit.tasks.speech.config",
    "StreamingTranscriber": "lstmkit.tasks.speech.stream",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
