"""Transcribing a stream chunk by chunk with a unidirectional model: text as it is spoken.

Every stage carries what it needs across chunks, so the final transcript is the offline best-path
transcript of the same audio with the same model (the per-frame probabilities agree to float32
rounding, ~1e-6: a matrix product rounds a few rows differently from many):

* features: :class:`lstmkit.data.audio_features.StreamingFeatures` keeps the samples of an unfinished
  analysis window (frames are cut without centring, so a frame never waits for the future);
* normalisation: the training part's mean and deviation (``normalize="global"``, the default of a
  unidirectional model), not the utterance's, which is unknown until it ends;
* convolution: the stride-2 convolution of a streaming model is causal (left padding only); the
  stream keeps its last ``kernel - 1`` unused input frames, starting from the same zero frames the
  offline left padding adds;
* LSTM: the state (h, c) after the last frame is the initial state of the next chunk;
* decoding: best path emits a character when the frame's most probable label is neither blank nor
  the previous frame's label, and the previous label is carried over the chunk boundary.
"""
from __future__ import annotations

import numpy as np
import torch

from lstmkit.errors import UsageError
from lstmkit.tasks.speech.model import BLANK

__all__ = ["StreamingTranscriber"]


class StreamingTranscriber:
    """``push(samples) -> new text``; ``text`` is everything emitted so far.

    ``samples``: float mono at the model's sample rate (any chunk size, even one sample).
    """

    def __init__(self, app):
        from lstmkit.data.audio_features import StreamingFeatures

        app.require_fitted()
        if app.config.task != "ctc":
            raise UsageError("streaming transcribes CTC models; this model labels whole utterances (--task keywords)")
        if app.model.bidirectional:
            raise UsageError("streaming needs a model that reads in one direction: train it with --unidirectional")
        if app.config.normalization != "global":
            raise UsageError("streaming needs the training mean/deviation (normalize='global'); this model "
                             "normalises each whole utterance")
        self.app, self.model = app, app.model.eval()
        self.device = next(self.model.parameters()).device
        self.features = StreamingFeatures(app.config.feature_config())
        model = self.model
        self.pending = (torch.zeros(model.conv_kernel - 1, model.input_size, device=self.device)
                        if model.conv is not None else None)
        self.state = None
        self.previous = BLANK
        self.labels: list[int] = []
        self.frames = 0  # output frames decoded so far

    @property
    def text(self) -> str:
        return self.app.decode_labels(self.labels)

    @torch.no_grad()
    def push(self, samples) -> str:
        """Feed more audio; returns the characters this chunk added."""
        frames = self.features.push(torch.as_tensor(np.asarray(samples, dtype=np.float32)))
        if len(frames) == 0:
            return ""
        x = self.app.normalise(frames).to(self.device)
        model = self.model
        if model.conv is not None:
            buffer = torch.cat([self.pending, x])
            k = model.conv_kernel
            count = (len(buffer) - k) // 2 + 1 if len(buffer) >= k else 0
            if count == 0:
                self.pending = buffer
                return ""
            used = buffer[: 2 * (count - 1) + k]
            z = model.conv_step(model.conv(used.T.unsqueeze(0)).transpose(1, 2))  # (1, count, C)
            self.pending = buffer[2 * count:]
        else:
            z = x.unsqueeze(0)
        hidden, self.state = model.lstm(z, self.state)
        best = model.outputs(hidden)[0].argmax(-1).tolist()
        self.frames += len(best)
        new = []
        for label in best:
            if label != BLANK and label != self.previous:
                new.append(label)
            self.previous = label
        self.labels += new
        return self.app.decode_labels(new)
