r"""The translation network: an LSTM encoder, an LSTM decoder attending over the encoder's states.

Notation: source tokens :math:`x_1 \dots x_S`, target tokens :math:`y_1 \dots y_T` (:math:`y_0` =
``<bos>``, :math:`y_T` = ``<eos>``), :math:`E` embeddings, :math:`H` = ``hidden_size``.

**Encoder.** Embedding, dropout, then an :class:`lstmkit.nn.LSTM` over each sentence's own length
(``lengths=``: pads never enter a state). Bidirectional by default, each direction with :math:`H/2`
units, so the encoder states :math:`\bar h_s = [\overrightarrow{h}_s; \overleftarrow{h}_s] \in
\mathbb{R}^H` have the decoder's size (the OpenNMT convention; Luong's dot score needs it).

**Bridge** (the decoder's initial state, per layer :math:`l`). The encoder's final states of layer
:math:`l`, both directions concatenated (the forward one at the sentence's last real token, the
backward one at its first): :math:`h^{enc}_l = [\overrightarrow{h}_{S,l}; \overleftarrow{h}_{1,l}]`,
likewise :math:`c^{enc}_l`. ``bridge="copy"`` (default) starts the decoder there,
:math:`h^{dec}_{0,l} = h^{enc}_l, c^{dec}_{0,l} = c^{enc}_l`: the decoder starts from a summary of the
whole sentence at no parameter cost. ``"dense"``: :math:`h^{dec}_{0,l} = \tanh(W_h h^{enc}_l + b_h)`,
:math:`c^{dec}_{0,l} = \tanh(W_c c^{enc}_l + b_c)`, a learned change of coordinates between the two
LSTMs. ``"zero"``: zeros, so the decoder sees the source only through the attention.

**Attention** over the encoder states, masked: a pad's score is :math:`-\infty`, so its weight is
exactly 0 and a sentence's attention does not depend on its batch.

.. math::
    a_{t,s} = \frac{\exp \mathrm{score}(q_t, \bar h_s)}{\sum_{s' \le S} \exp \mathrm{score}(q_t, \bar h_{s'})},
    \qquad c_t = \sum_s a_{t,s} \bar h_s

* Luong et al. 2015 (``attention="luong"``): the query is the *current* decoder state,
  :math:`q_t = h_t`; ``score="dot"``: :math:`h_t^\top \bar h_s`; ``score="general"`` (default):
  :math:`h_t^\top W_a \bar h_s`.
* Bahdanau et al. 2015 (``attention="bahdanau"``, additive): the query is the *previous* decoder state,
  :math:`q_t = h_{t-1}`, with :math:`\mathrm{score} = v_a^\top \tanh(W_a h_{t-1} + U_a \bar h_s + b_a)`.

**Decoder**, one step (a stack of :class:`lstmkit.nn.LSTMCell`, dropout between layers):

* Luong: :math:`h_t = \mathrm{LSTM}([E y_{t-1}; \tilde h_{t-1}], h_{t-1})`, then the attention with
  :math:`q_t = h_t`. *Input feeding* (``input_feed=True``, default) is the :math:`\tilde h_{t-1}` in
  the input: the decoder knows what it attended to at the last step (without it, only
  :math:`E y_{t-1}`).
* Bahdanau: the attention with :math:`q_t = h_{t-1}` first, then
  :math:`h_t = \mathrm{LSTM}([E y_{t-1}; c_t], h_{t-1})` (the context always goes in: that is how the
  additive model feeds its attention back).

Both then form the attentional vector and the output distribution:

.. math::
    \tilde h_t = \tanh(W_c [c_t; h_t]), \qquad
    p(y_t \mid y_{<t}, x) = \mathrm{softmax}(W_s\, \mathrm{dropout}(\tilde h_t) + b_s)

**Training** with teacher forcing: the decoder reads the reference :math:`y_{t-1}`, not its own
guess, and the loss is the mean token cross-entropy over real (non-pad) target tokens, with label
smoothing :math:`\varepsilon`: the target distribution is :math:`1 - \varepsilon` on the reference
token plus :math:`\varepsilon / V` everywhere (Szegedy et al. 2016), which keeps the model from growing
over-confident and helps beam search. Dropout on both embeddings, between layers and on
:math:`\tilde h_t`.

**Decoding** (:mod:`lstmkit.decoding.search`) drives :meth:`Seq2SeqAttention.step` one token at a time
from :meth:`Seq2SeqAttention.initial_state`.

**Other cells** (``cell``, :data:`lstmkit.nn.CELLS`; ``recurrent_dropout``, ``zoneout``). The encoder is
:func:`lstmkit.nn.recurrent_layer` of that cell, the decoder one single-layer recurrent layer of it per
layer, stepped through its own step function (as :class:`lstmkit.nn.RecurrentStreamer` steps it), so the
regularisers act as in a whole-sequence call: one recurrent dropout mask per sentence and layer, fresh
zoneout masks every step, and at evaluation no dropout and zoneout's expectation. A GRU or an RNN has no
cell state: the bridge carries h alone (``"dense"`` has no :math:`W_c`), and the decoder state holds None
where the LSTM's holds c. The plain LSTM without either regulariser keeps the stack of
:class:`lstmkit.nn.LSTMCell` above, parameter for parameter.
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from lstmkit.nn import LSTMCell, recurrent_layer
from lstmkit.registry import register_model
from lstmkit.tasks.cells import HAS_CELL_STATE, default_cell

__all__ = ["Attention", "Seq2SeqAttention", "token_accuracy", "translation_loss"]

PAD = 0
BOS = 2


class Attention(torch.nn.Module):
    """Masked attention over encoder states; ``kind`` ``"luong"`` (``score`` ``"general"``/``"dot"``) or
    ``"bahdanau"`` (additive). The parts that depend only on the encoder states are computed once per
    sentence by :meth:`keys`."""

    def __init__(self, size: int, kind: str = "luong", score: str = "general"):
        super().__init__()
        self.kind, self.score = kind, score
        if kind == "luong" and score == "general":
            self.W_a = torch.nn.Linear(size, size, bias=False)
        elif kind == "bahdanau":
            self.W_a = torch.nn.Linear(size, size, bias=False)  # on the query
            self.U_a = torch.nn.Linear(size, size, bias=True)  # on the keys (b_a)
            self.v_a = torch.nn.Linear(size, 1, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """memory (N, S, H) -> keys (N, S, H): :math:`W_a^\\top`-projected (general), :math:`U_a \\bar h_s + b_a`
        (additive) or the states themselves (dot)."""
        if self.kind == "bahdanau":
            return self.U_a(memory)
        if self.score == "general":
            # h^T W_a hbar_s = h . (W_a hbar_s): project the keys once instead of the query every step.
            return F.linear(memory, self.W_a.weight)
        return memory

    def forward(self, query: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """query (R, H), keys/memory (R, S, H), mask (R, S) True at real tokens -> context (R, H), weights (R, S)."""
        if self.kind == "bahdanau":
            scores = self.v_a(torch.tanh(keys + self.W_a(query).unsqueeze(1))).squeeze(2)
        else:
            scores = torch.bmm(keys, query.unsqueeze(2)).squeeze(2)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # pads: exactly 0
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights


@register_model("translator")
class Seq2SeqAttention(torch.nn.Module):
    """Encoder-decoder with attention (equations in the module docstring).

    ``forward((src, src_lengths, tgt_in))``: src (N, S) ids padded with 0, src_lengths (N,), tgt_in
    (N, T) = ``<bos>`` + the reference (teacher forcing) -> logits (N, T, V_tgt).

    Decoding: ``state = model.initial_state(src, src_lengths)``, then
    ``log_probs, state, attention = model.step(tokens, state)`` per token (the protocol of
    :mod:`lstmkit.decoding.search`; every tensor of ``state`` has the rows on dim 0).
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embedding_dim: int = 128, hidden_size: int = 128,
                 num_layers: int = 1, bidirectional: bool = True, attention: str = "luong", score: str = "general",
                 input_feed: bool = True, bridge: str = "copy", dropout: float = 0.2, cell: str = "lstm",
                 recurrent_dropout: float = 0.0, zoneout: float = 0.0):
        super().__init__()
        if bidirectional and hidden_size % 2:
            raise ValueError(f"a bidirectional encoder needs an even hidden_size, got {hidden_size}")
        if attention not in ("luong", "bahdanau") or score not in ("general", "dot") or bridge not in (
                "copy", "dense", "zero"):
            raise ValueError(f"unknown attention/score/bridge: {attention!r}, {score!r}, {bridge!r}")
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        self.embedding_dim, self.hidden_size, self.num_layers = embedding_dim, hidden_size, num_layers
        self.bidirectional, self.attention_kind, self.score = bool(bidirectional), attention, score
        self.input_feed, self.bridge, self.dropout_p = bool(input_feed), bridge, float(dropout)
        self.cell, self.recurrent_dropout, self.zoneout = cell, float(recurrent_dropout), float(zoneout)
        H, E, L = hidden_size, embedding_dim, num_layers
        regularisers = {"recurrent_dropout": self.recurrent_dropout, "zoneout": self.zoneout}

        self.src_embedding = torch.nn.Embedding(src_vocab_size, E, padding_idx=PAD)
        self.tgt_embedding = torch.nn.Embedding(tgt_vocab_size, E, padding_idx=PAD)
        self.encoder = recurrent_layer(cell, E, H // 2 if bidirectional else H, L, batch_first=True,
                                       bidirectional=bidirectional, dropout=self.dropout_p if L > 1 else 0.0,
                                       **regularisers)
        self.has_cell_state = cell in HAS_CELL_STATE  # (h, c) for the LSTM family, h alone for the GRU and RNN
        if bridge == "dense":
            self.bridge_h = torch.nn.Linear(H, H)
            if self.has_cell_state:
                self.bridge_c = torch.nn.Linear(H, H)
        if attention == "bahdanau":
            extra = H  # the context c_t
        else:
            extra = H if input_feed else 0  # the previous attentional vector
        # The plain LSTM keeps its stack of cells; any other cell (or a regulariser) one recurrent layer per
        # decoder layer, stepped with its own step function (_decoder_steps).
        self.plain_cells = default_cell(self)
        if self.plain_cells:
            self.cells = torch.nn.ModuleList(LSTMCell(E + extra if l == 0 else H, H) for l in range(L))
        else:
            self.cells = torch.nn.ModuleList(recurrent_layer(cell, E + extra if l == 0 else H, H, 1, **regularisers)
                                             for l in range(L))
        self.attention = Attention(H, attention, score)
        self.combine = torch.nn.Linear(2 * H, H, bias=False)  # W_c
        self.generator = torch.nn.Linear(H, tgt_vocab_size)  # W_s, b_s
        self.drop = torch.nn.Dropout(self.dropout_p)
        with torch.no_grad():  # small embeddings, as the text models
            for embedding in (self.src_embedding, self.tgt_embedding):
                embedding.weight.uniform_(-0.1, 0.1)
                embedding.weight[PAD].zero_()

    def get_config(self) -> dict:
        return {"src_vocab_size": self.src_vocab_size, "tgt_vocab_size": self.tgt_vocab_size,
                "embedding_dim": self.embedding_dim, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "bidirectional": self.bidirectional, "attention": self.attention_kind, "score": self.score,
                "input_feed": self.input_feed, "bridge": self.bridge, "dropout": self.dropout_p, "cell": self.cell,
                "recurrent_dropout": self.recurrent_dropout, "zoneout": self.zoneout}

    @classmethod
    def from_config(cls, config: dict) -> "Seq2SeqAttention":
        return cls(**config)

    # ---- encoder ---------------------------------------------------------------------------------
    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor):
        """src (N, S), src_lengths (N,) -> memory (N, S, H) (zero past each length), mask (N, S) and the
        bridged decoder state (h, c), each (N, L, H); c is None for a cell without one (GRU, RNN)."""
        src_lengths = torch.as_tensor(src_lengths, dtype=torch.int64, device=src.device)
        x = self.drop(self.src_embedding(src))
        memory, final = self.encoder(x, lengths=src_lengths)  # h_n (L*D, N, H/D), and c_n for the LSTM family
        mask = torch.arange(src.shape[1], device=src.device)[None, :] < src_lengths[:, None]
        if not self.has_cell_state:
            return memory, mask, (self._bridge(final, "h"), None)
        h_n, c_n = final
        return memory, mask, (self._bridge(h_n, "h"), self._bridge(c_n, "c"))

    def _bridge(self, final: torch.Tensor, which: str) -> torch.Tensor:
        N, L = final.shape[1], self.num_layers
        D = 2 if self.bidirectional else 1
        state = final.view(L, D, N, -1).permute(2, 0, 1, 3).reshape(N, L, self.hidden_size)  # [fwd; bwd] per layer
        if self.bridge == "zero":
            return torch.zeros_like(state)
        if self.bridge == "dense":
            return torch.tanh((self.bridge_h if which == "h" else self.bridge_c)(state))
        return state

    def initial_state(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The decoder's state before its first step: ``(h, c, feed, memory, keys, mask)``, rows on dim 0
        (c None for a cell without a cell state)."""
        memory, mask, (h, c) = self.encode(src, src_lengths)
        feed = memory.new_zeros(memory.shape[0], self.hidden_size)
        return h, c, feed, memory, self.attention.keys(memory), mask

    # ---- decoder ---------------------------------------------------------------------------------
    def _decoder_steps(self, steps: int, like: torch.Tensor) -> list | None:
        """Per decoder layer, its one-step function (:meth:`lstmkit.nn.LSTM.step_function`, the equations
        of :mod:`lstmkit.nn.functional`) with the masks of one sequence of ``steps`` steps and ``like.shape[0]``
        rows while training (one recurrent dropout mask for the whole sequence, zoneout masks per step),
        without dropout and with zoneout's expectation otherwise. None for the plain LSTM's cells."""
        if self.plain_cells:
            return None
        return [layer.step_function(batch_size=like.shape[0], steps=steps) for layer in self.cells]

    def _decode_step(self, emb: torch.Tensor, state: tuple, steps: list | None = None, t: int = 0):
        """One step from the embedded previous token (R, E): -> (dropout(h~_t) (R, H), state, weights (R, S)).

        ``steps``/``t``: :meth:`_decoder_steps` and the step's index in it (for cells other than the plain
        LSTM; made here for this one step when not given, as in decoding)."""
        h, c, feed, memory, keys, mask = state
        if self.attention_kind == "bahdanau":
            context, weights = self.attention(h[:, -1], keys, memory, mask)  # query: the previous state
            x = torch.cat([emb, context], dim=1)
        else:
            x = torch.cat([emb, feed], dim=1) if self.input_feed else emb
        if steps is None and not self.plain_cells:
            steps, t = self._decoder_steps(1, emb), 0
        hs, cs = [], []
        for layer, cell in enumerate(self.cells):
            if steps is None:
                h_l, c_l = cell(x, (h[:, layer], c[:, layer]))
            else:
                carried = (h[:, layer], c[:, layer]) if c is not None else (h[:, layer],)
                h_l, new = steps[layer](t, x, carried)
                c_l = new[1] if c is not None else None
            hs.append(h_l)
            cs.append(c_l)
            x = self.drop(h_l) if layer + 1 < self.num_layers else h_l
        top = hs[-1]
        if self.attention_kind != "bahdanau":
            context, weights = self.attention(top, keys, memory, mask)  # query: the current state
        attentional = self.drop(torch.tanh(self.combine(torch.cat([context, top], dim=1))))
        c_new = torch.stack(cs, 1) if c is not None else None
        return attentional, (torch.stack(hs, 1), c_new, attentional, memory, keys, mask), weights

    def forward(self, inputs) -> torch.Tensor:
        src, src_lengths, tgt_in = inputs
        state = self.initial_state(src, src_lengths)
        emb = self.drop(self.tgt_embedding(tgt_in))  # (N, T, E)
        steps = self._decoder_steps(tgt_in.shape[1], emb)
        outputs = []
        for t in range(tgt_in.shape[1]):
            attentional, state, _ = self._decode_step(emb[:, t], state, steps, t)
            outputs.append(attentional)
        return self.generator(torch.stack(outputs, dim=1))  # (N, T, V): one large matrix product

    def attention_weights(self, src, src_lengths, tgt_in) -> torch.Tensor:
        """Teacher-forced attention (N, T, S) of every target step over the source."""
        state = self.initial_state(src, src_lengths)
        emb = self.tgt_embedding(tgt_in)
        steps = self._decoder_steps(tgt_in.shape[1], emb)
        rows = []
        for t in range(tgt_in.shape[1]):
            _, state, weights = self._decode_step(emb[:, t], state, steps, t)
            rows.append(weights)
        return torch.stack(rows, dim=1)

    def step(self, tokens: torch.Tensor, state: tuple):
        """Decoding step: tokens (R,) -> (log-probabilities (R, V), state, attention (R, S)).

        ``<pad>`` and ``<bos>`` are never produced (their log-probability is -inf)."""
        attentional, state, weights = self._decode_step(self.tgt_embedding(tokens), state)
        logits = self.generator(attentional)
        logits[:, PAD] = float("-inf")
        logits[:, BOS] = float("-inf")
        return torch.log_softmax(logits, dim=-1), state, weights


def _smoothed_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD,
                           label_smoothing=label_smoothing)


def translation_loss(label_smoothing: float = 0.0):
    """``loss(logits (N, T, V), targets (N, T))``: mean cross-entropy over the non-pad target tokens,
    with label smoothing."""
    return partial(_smoothed_cross_entropy, label_smoothing=float(label_smoothing))


def token_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of the non-pad target tokens the model ranks first (teacher forced)."""
    real = targets != PAD
    return float(((logits.argmax(-1) == targets) & real).sum() / real.sum().clamp(min=1))
