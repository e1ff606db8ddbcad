r"""The fused backend of the LSTM variants no vendor kernel covers: a hand-written backward through time.

``torch.nn.LSTM`` runs one fused kernel (oneDNN on CPU, cuDNN on GPU), but only for the standard
cell. A peephole, coupled-gate or layer-normalised LSTM, or one with zoneout or recurrent dropout,
written as a Python loop under autograd is 1.6-4x slower to train: autograd records every small op
of every step, and its backward computes the recurrent weight gradient as T small products.

:func:`lstm_sequence` runs one direction of one layer as a single :class:`torch.autograd.Function`
and computes exactly what a loop over :func:`lstmkit.nn.functional.lstm_step` computes under autograd
(peephole, coupled and ``norm`` variants included), wrapped as the layers wrap it: recurrent dropout
multiplies :math:`h_{t-1}` inside the recurrent product only, zoneout mixes old and new states,
padding carries the state unchanged. ``tests/nn/test_fused_lstm.py`` holds every output and gradient
to 1e-10 of that loop in float64, for every combination of the options.

Forward, one step (``*`` is elementwise; :math:`\hat x_t = W_{ih} x_t + b_{ih}`, layer-normalised
where asked, arrives computed for all steps at once by the caller, under autograd, so
:math:`dW_{ih}`, :math:`dx` and :math:`db_{ih}` come from autograd's own large products)::

    a_t   = xhat_t + LN_hh(W_hh (m * h_{t-1})) + b_hh       gate pre-activations [i | f | g | o]
    i, f  = sigma(a_i + p_i c_{t-1}), sigma(a_f + p_f c_{t-1})      (coupled: no i block, i = 1 - f)
    g     = tanh(a_g)
    c_new = f c_{t-1} + i g
    o     = sigma(a_o + p_o c_new)
    h_new = o tanh(LN_c(c_new))
    h_t   = h_{t-1} + k^h_t (h_new - h_{t-1}),   c_t = c_{t-1} + k^c_t (c_new - c_{t-1})

where the keep factor :math:`k_t = (1 - d_t)\,v_t` folds zoneout (keep-mask :math:`d_t`, or its
probability p at evaluation) and padding (:math:`v_t = 0` past a sequence's end, where the state is
carried unchanged and the output :math:`v_t h_t` is 0) into one factor, as in
:mod:`lstmkit.nn.fused_gru`.

Backward, with :math:`\delta_t = \partial L/\partial h_t` and :math:`\gamma_t = \partial L/\partial c_t`
(what the outputs and the later steps send back): every gate gradient is :math:`\delta_t` or
:math:`\partial c_{new}` times a factor that the forward pass already fixed (:math:`s` is
:math:`\tanh(LN_c(c_{new}))`, recomputed per chunk from the kept :math:`c_{new}`, or with layer norm kept
from the forward pass)::

    K_o = k^h s o (1 - o)                    d a_o   = delta K_o
    K_s = k^h o (1 - s^2) (+ K_o p_o)        d c_new = k^c gamma + delta K_s
                                                 (LN_c: k^c gamma + LN_c'(delta K_s) + delta K_o p_o)
    K_i, K_f, K_g = g i(1-i), c_{t-1} f(1-f), i(1-g^2)          [d a_i, d a_f, d a_g] = d c_new [K_i, K_f, K_g]
        coupled: K_f, K_g = (c_{t-1} - g) f (1 - f), (1 - f)(1 - g^2)
    F   = f + K_f p_f + K_i p_i              gamma_{t-1} = d c_new F + (1 - k^c) gamma
                                             delta_{t-1} += (1 - k^h) delta + m * (LN_hh'(d a) W_hh)

The factors of a whole chunk of steps are computed together before the chunk's loop, a few large
operations, and [K_i, K_f, K_g, K_o] straight into the chunk's rows of d zx (T, N, G*H), which the loop
then multiplies in place. A backward step of the standard cell is five torch calls: d c_new, the
broadcast product giving the gradients of i, f and g, o's, :math:`\gamma_{t-1}`, and ``addmm_`` of
the recurrent product straight into :math:`\delta_{t-1}` (one more each for zoneout or padding on h
and on c, for the recurrent mask, and for each layer norm). :math:`dW_{hh}` is one large product per
chunk, :math:`db_{hh} = \sum d\hat x` one sum, the peepholes' gradients a few large operations per
chunk.

Layer norm :math:`y = \gamma \hat v + \beta` runs in torch's own kernels, forward
(``torch.native_layer_norm``, which also returns the mean and 1/std kept for backward) and backward
(``aten.native_layer_norm_backward``, one call per step, which also returns the step's share of the
gains' gradients :math:`\sum dy \odot \hat v` and :math:`\sum dy`; they are summed at the end).

Implementation choices that are about speed only (a forward step of the standard cell is nine torch
calls, one of them the recurrent product):

* :math:`\tanh(x) = 2\sigma(2x) - 1`, because torch's CPU tanh is 3-6x slower than its sigmoid. The
  candidate block's pre-activation is built doubled (its rows of :math:`W_{hh}` or of the LN gain,
  its columns of :math:`\hat x_t + b_{hh}`, all times 2, which is exact in floating point), so one
  sigmoid covers all four gates; the cell's tanh is :math:`2\sigma(c + c) - 1` (with layer norm, the
  normalisation runs with gain and bias doubled).
* the output ``out`` is the buffer of the states :math:`h_t` itself (saved for backward as an output,
  so an in-place change of it is reported by autograd), and :math:`h_{t-1}` of every step is a plain
  view of it (or ``h0``); the cell states likewise live in one (T, N, H) buffer, the gates (activated)
  in one (T, N, G*H) buffer. Per-step views of the buffers are made once per call, so the loops do no
  Python indexing of tensors. What layer norm keeps per step (the recurrent product, the statistics,
  the normalised cell) stays in the small tensors the steps made, not copied into large buffers.
* time is cut into chunks of about ``_CHUNK_ELEMENTS`` values per (steps, N, H) block: the backward's
  factors and the keep factors live in scratch buffers of one chunk (or in d zx's rows), reused while
  in cache, instead of whole-sequence temporaries that would each be written to fresh memory (slow
  to touch for the first time).
* without autograd (``torch.no_grad()``, or no input requiring a gradient) the same loop runs with
  nothing saved: the gates live in a buffer of one chunk, the cell state in two (N, H) buffers.
"""
from __future__ import annotations

from itertools import repeat

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["lstm_sequence"]

# Long sequences are worked through in chunks of about this many elements per (steps, N, H) block.
_CHUNK_ELEMENTS = 1 << 16

_ln_backward = torch.ops.aten.native_layer_norm_backward.default


def _chunk_steps(T: int, N: int, H: int) -> int:
    """How many steps a chunk holds."""
    return max(1, min(T, _CHUNK_ELEMENTS // max(1, N * H)))


def _chunks(T: int, C: int, *, backwards: bool) -> list[tuple[int, int]]:
    """The chunks [start, stop) of C steps covering 0..T-1, in increasing or (backwards) decreasing time."""
    chunks = [(start, min(start + C, T)) for start in range(0, T, C)]
    return chunks[::-1] if backwards else chunks


def _keep_factor(zone, valid: Tensor | None, start: int, stop: int, dtype: torch.dtype, buf: Tensor | None):
    """k_t = (1 - d_t) v_t of the module docstring for steps start..stop-1: (L, N, H) (written into
    ``buf``), (L, N, 1), a float, or None where it is 1 everywhere."""
    v = None if valid is None else valid[start:stop].to(dtype)
    if zone is None:
        return v
    if isinstance(zone, float):
        return 1.0 - zone if v is None else v * (1.0 - zone)
    k = buf[: stop - start]
    torch.neg(zone[start:stop].expand(k.shape), out=k).add_(1)
    return k if v is None else k.mul_(v)


def _carry_factor(keep, buf: Tensor | None):
    """1 - k_t: the share of the old state in the state a step leaves (kinds as :func:`_keep_factor`)."""
    if keep is None or isinstance(keep, float):
        return None if keep is None else 1.0 - keep
    return torch.neg(keep, out=buf[: keep.shape[0], :, : keep.shape[2]]).add_(1)


def _rows(factor, L: int, like: Tensor):
    """Per-step views of one chunk's factor (a tensor's rows; a float as an (N, H) constant, since torch
    multiplies by a tensor faster than by a Python number), or an endless None."""
    if factor is None:
        return repeat(None)
    if isinstance(factor, float):
        return [torch.full_like(like, factor)] * L
    return factor.unbind(0)


def _prev_segments(states: Tensor, first: Tensor, start: int, stop: int, reverse: bool) -> list:
    """Where the states each step of chunk [start, stop) starts from lie: [(rows of the chunk, (k, N, H)
    source)], ``first`` (h0 or c0) being the state before the first step processed."""
    T, L = states.shape[0], stop - start
    if not reverse:
        if start > 0:
            return [(slice(0, L), states[start - 1: stop - 1])]
        return [(slice(0, 1), first.unsqueeze(0))] + ([(slice(1, L), states[: stop - 1])] if L > 1 else [])
    if stop < T:
        return [(slice(0, L), states[start + 1: stop + 1])]
    return [(slice(L - 1, L), first.unsqueeze(0))] + ([(slice(0, L - 1), states[start + 1: stop])] if L > 1 else [])


def _as_keep(zone, dtype):
    """A zoneout argument as the loops take it: None (also for p = 0), a float p, or a detached mask."""
    if isinstance(zone, Tensor) and zone.dim() == 0:
        zone = float(zone)
    if isinstance(zone, float):
        return None if zone == 0.0 else zone
    return None if zone is None else zone.detach().to(dtype)


def _forward(zx, h0, c0, weight_hh, bias_hh, peephole, ln_hh, ln_cw, ln_cb, eps, valid, mask, zone_h, zone_c,
             coupled: bool, reverse: bool, for_backward: bool):
    """The loop over time. Returns (h states (T, N, H), h_T, c_T, saved) where ``saved`` holds what
    backward needs (None without ``for_backward``)."""
    T, N, GH = zx.shape
    H = h0.shape[-1]
    G = GH // H
    C = _chunk_steps(T, N, H)
    new = zx.new_empty
    # tanh(x) = 2 sigmoid(2x) - 1: the candidate's pre-activation is built doubled, each of its terms
    # exactly x2 (the candidate's block: i|f|g|o, or f|g|o when coupled)
    scale = zx.new_ones(GH)
    scale[(G - 2) * H: (G - 1) * H] = 2
    bias = zx.new_zeros(GH) if bias_hh is None else bias_hh.detach() * scale
    if ln_hh is None:
        weight_t, ln_gain = (weight_hh.detach() * scale[:, None]).t(), None
    else:
        weight_t, ln_gain = weight_hh.detach().t(), ln_hh.detach() * scale
    cell_gain = None if ln_cw is None else ln_cw.detach() * 2
    cell_bias = None if ln_cb is None else ln_cb.detach() * 2
    minus_one, one = zx.new_full((N, H), -1.0), zx.new_full((N, H), 1.0)
    if peephole is not None:
        peep = peephole.detach()
        p_in, p_o = (peep[0] if coupled else peep[:2]), peep[-1]  # p_f (coupled) or [p_i, p_f]; p_o

    # Buffers, and their per-step views made once. With autograd the gates of all steps are kept; without,
    # those of one chunk, and the cell state lives in two buffers taken in turn.
    out_h = new(T, N, H)  # h_t for every t: the output itself where there is no padding
    h_steps = out_h.unbind(0)
    gates = new(T if for_backward else C, N, GH)
    blocks = gates.view(-1, N, G, H)
    nothing = repeat(None)
    gate_rows = (
        gates.unbind(0),
        nothing if coupled else blocks[:, :, 0].unbind(0),  # i
        blocks[:, :, G - 3].unbind(0),  # f
        blocks[:, :, G - 2].unbind(0),  # g
        blocks[:, :, G - 1].unbind(0),  # o
        nothing if peephole is None else gates[..., : (G - 1) * H].unbind(0),  # all but o
        nothing if peephole is None or coupled else blocks[:, :, :2].unbind(0),  # i and f
    )
    if for_backward:
        states_c = new(T, N, H)
        c_steps = states_c.unbind(0)
        c_new_all = new(T, N, H) if zone_c is not None else None
        c_new_steps = c_new_all.unbind(0) if zone_c is not None else c_steps
        a_rows = nothing
    else:
        pair = (new(N, H), new(N, H))
        c_steps = [pair[(T - 1 - t if reverse else t) % 2] for t in range(T)]
        c_new_steps = [new(N, H)] * T if zone_c is not None else c_steps
        a_rows = nothing if ln_hh is None else [new(N, GH)] * C
    if reverse:
        h_prev, c_prev = list(h_steps[1:]) + [h0], list(c_steps[1:]) + [c0]
    else:
        h_prev, c_prev = [h0] + list(h_steps[:-1]), [c0] + list(c_steps[:-1])
    keep_stats = for_backward and ln_hh is not None
    # with layer norm: per step the recurrent product, the normalisations' means and 1/std, the shown cell
    products, mus, rstds, mus_c, rstds_c, shown_c = [], [], [], [], [], []  # in the order the steps run
    s_buf = new(N, H)
    masked = new(N, H) if mask is not None else None
    keep_h_buf = new(C, N, H) if isinstance(zone_h, Tensor) else None
    keep_c_buf = new(C, N, H) if isinstance(zone_c, Tensor) else None

    for start, stop in _chunks(T, C, backwards=reverse):
        L = stop - start
        span = slice(start, stop) if for_backward else slice(0, L)
        # each chunk's gates start as xhat_t + b_hh (candidate block doubled) just before its steps run
        torch.addcmul(bias, zx[start:stop], scale, out=gates[span])
        steps = zip(
            *(rows[span] if rows is not nothing else nothing for rows in gate_rows),
            a_rows[span] if a_rows is not nothing else nothing,
            h_prev[start:stop], c_prev[start:stop], c_new_steps[start:stop], h_steps[start:stop], c_steps[start:stop],
            _rows(_keep_factor(zone_h, valid, start, stop, zx.dtype, keep_h_buf), L, minus_one),
            _rows(_keep_factor(zone_c, valid, start, stop, zx.dtype, keep_c_buf), L, minus_one),
        )
        if reverse:
            steps = reversed(list(steps))
        for gt, i, f, g, o, gates_io, in_if, a_out, hp, cp, cn, hn, c_out, kh, kc in steps:
            hr = hp if mask is None else torch.mul(hp, mask, out=masked)
            if ln_gain is None:
                gt.addmm_(hr, weight_t)
            else:
                a = torch.mm(hr, weight_t) if keep_stats else torch.mm(hr, weight_t, out=a_out)
                y, mu, rstd = torch.native_layer_norm(a, (GH,), ln_gain, None, eps)
                gt.add_(y)
                if keep_stats:
                    mus.append(mu)
                    rstds.append(rstd)
                    products.append(a)
            if peephole is None:
                gt.sigmoid_()  # i, f, o and sigmoid(2 a_g)
            else:  # the gates that see c_{t-1} first; o waits for the new cell
                if coupled:
                    f.addcmul_(p_in, cp)
                else:
                    in_if.addcmul_(p_in, cp.unsqueeze(1))
                gates_io.sigmoid_()
            torch.lerp(minus_one, one, g, out=g)  # 2 sigmoid(2 a_g) - 1 = tanh(a_g)
            if coupled:
                torch.lerp(g, cp, f, out=cn)  # f c + (1 - f) g
            else:
                torch.mul(f, cp, out=cn).addcmul_(i, g)
            if peephole is not None:
                o.addcmul_(p_o, cn).sigmoid_()
            if cell_gain is None:
                s = torch.add(cn, cn, out=s_buf)
            else:
                s, mu, rstd = torch.native_layer_norm(cn, (H,), cell_gain, cell_bias, eps)  # 2 LN_c(c_new)
                if keep_stats:
                    mus_c.append(mu)
                    rstds_c.append(rstd)
                    shown_c.append(s)
            torch.lerp(minus_one, one, s.sigmoid_(), out=s)  # tanh of the (normalised) cell
            torch.mul(o, s, out=hn)
            if kh is not None:
                torch.lerp(hp, hn, kh, out=hn)
            if kc is not None:
                torch.lerp(cp, cn, kc, out=c_out)

    last = 0 if reverse else T - 1
    h_last = h_steps[last].clone()
    if not for_backward:
        return out_h, h_last, c_steps[last], None
    per_step = ()
    if ln_hh is not None:  # in time order
        per_step = tuple(x for lst in (products, mus, rstds, mus_c, rstds_c, shown_c)
                         for x in (lst[::-1] if reverse else lst))
    return out_h, h_last, c_steps[last].clone(), (gates, states_c, c_new_all, per_step)


class _LSTMSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, zx, h0, c0, weight_hh, bias_hh, peephole, ln_hh, ln_cell_weight, ln_cell_bias,
                valid, recurrent_mask, zoneout_h, zoneout_c, coupled, reverse, eps):
        ctx.set_materialize_grads(False)
        out_h, h_last, c_last, saved = _forward(
            zx, h0, c0, weight_hh, bias_hh, peephole, ln_hh, ln_cell_weight, ln_cell_bias, eps, valid,
            recurrent_mask, zoneout_h, zoneout_c, coupled, reverse, for_backward=True)
        gates, states_c, c_new_all, per_step = saved
        out = out_h if valid is None else out_h * valid
        ctx.save_for_backward(weight_hh, peephole, ln_hh, ln_cell_weight, ln_cell_bias, h0, c0, valid,
                              recurrent_mask, zoneout_h if isinstance(zoneout_h, Tensor) else None,
                              zoneout_c if isinstance(zoneout_c, Tensor) else None,
                              gates, out_h, states_c, c_new_all, *per_step)
        ctx.zoneout = (zoneout_h if isinstance(zoneout_h, float) else None,
                       zoneout_c if isinstance(zoneout_c, float) else None)
        ctx.options = (coupled, reverse, bias_hh is not None)
        return out, h_last, c_last

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT, d_cT):
        (weight_hh, peephole, ln_hh, ln_cw, ln_cb, h0, c0, valid, mask, zone_h, zone_c, gates, states_h, states_c,
         c_new_all, *per_step) = ctx.saved_tensors
        zone_h = ctx.zoneout[0] if zone_h is None else zone_h
        zone_c = ctx.zoneout[1] if zone_c is None else zone_c
        coupled, reverse, has_bias = ctx.options
        (need_zx, need_h0, need_c0, need_w, need_b, need_p, need_ln_hh, need_ln_cw,
         need_ln_cb) = ctx.needs_input_grad[:9]
        need_b = need_b and has_bias
        T, N, GH = gates.shape
        G = 3 if coupled else 4
        H = GH // G
        C = _chunk_steps(T, N, H)
        new = gates.new_empty
        nothing = repeat(None)
        if c_new_all is None:
            c_new_all = states_c  # without zoneout on c, c_new = c_t wherever it matters (k^c = 1)
        if ln_hh is not None:  # per step what the layer norms' backward reads
            a_rows, mus, rstds, mus_c, rstds_c, shown_c = (per_step[k * T: (k + 1) * T] for k in range(6))
            ln_rows = (c_new_all.unbind(0), mus_c, rstds_c, a_rows, mus, rstds)
        # the layer norms' backward kernels also sum each step's share of the gains' gradients
        hh_mask = [True, need_ln_hh, False]
        cell_mask = [True, need_ln_cw, need_ln_cb and ln_cb is not None]
        gain_grads = ([], [], [])  # per step d gamma_hh, d gamma_c, d beta_c

        # The gate gradients (d zx, or a scratch of one chunk): before a chunk's loop its rows hold the
        # factors [K_i, K_f, K_g, K_o], which the loop multiplies in place by d c_new and delta.
        gate_grads_all = new(T, N, GH) if need_zx else new(C, N, GH)
        gg3_all = gate_grads_all.view(-1, N, G, H)
        grad_rows = (gate_grads_all.unbind(0), gg3_all[:, :, : G - 1].unbind(0), gg3_all[:, :, G - 1].unbind(0))
        # scratch of one chunk, reused by every chunk, with per-step views made once
        k_s_buf, delta_buf, tmp_buf, shown_buf = (new(C, N, H) for _ in range(4))
        step_k_s, step_delta = k_s_buf.unbind(0), delta_buf.unbind(0)
        # dc_{t-1} = dc_new F + ...: F is f itself without peepholes
        fac_buf = None if peephole is None else new(C, N, H)
        fac_rows = gates.view(T, N, G, H)[:, :, G - 3].unbind(0) if peephole is None else fac_buf.unbind(0)
        one_minus_f_buf = new(C, N, H) if coupled else None
        k_op_buf = new(C, N, H) if peephole is not None and ln_cw is not None else None
        products_buf = new(C, N, G - 2, H) if need_p else None
        kh_buf = new(C, N, H) if isinstance(zone_h, Tensor) else None
        kc_buf = new(C, N, H) if isinstance(zone_c, Tensor) else None
        carry_h_buf, carry_c_buf = new(C, N, H), new(C, N, H)
        d_a_buf = new(C, N, GH) if ln_hh is not None and need_w else None
        h_rec_buf = new(C, N, H) if mask is not None and need_w else None
        masked = new(N, H) if mask is not None else None
        d_shown = new(N, H) if ln_cw is not None else None
        grad_wt = gates.new_zeros(H, GH) if need_w else None  # dW_hh transposed: the faster product
        grad_b = gates.new_zeros(GH) if need_b and not need_zx else None
        grad_p = gates.new_zeros(peephole.shape) if need_p else None
        if peephole is not None:
            p_i, p_f, p_o = (None, peephole[0], peephole[1]) if coupled else peephole.unbind(0)
        back = new(N, H)  # dL/dh_{t-1} of the first step of the chunk last done (dL/dh_T to start with)
        if d_hT is None:
            back.zero_()
        else:
            back.copy_(d_hT)
        dc = new(N, H)  # dL/dc of the state before the step last done
        if d_cT is None:
            dc.zero_()
        else:
            dc.copy_(d_cT)
        dc_new = new(N, H)
        dc_new_3 = dc_new.unsqueeze(1)  # (N, 1, H): broadcast over the gate blocks but o

        chunks = _chunks(T, C, backwards=not reverse)
        for start, stop in chunks:
            L = stop - start
            span = slice(start, stop) if need_zx else slice(0, L)
            holds_first_step = (start, stop) == chunks[-1]  # the step whose h_{t-1}, c_{t-1} are h0, c0
            blocks = gates[start:stop].view(L, N, G, H)
            if coupled:
                f, g, o = blocks.unbind(2)
                i = torch.neg(f, out=one_minus_f_buf[:L]).add_(1)
            else:
                i, f, g, o = blocks.unbind(2)
            c_new = c_new_all[start:stop]
            c_prev = _prev_segments(states_c, c0, start, stop, reverse)
            keep_h = _keep_factor(zone_h, valid, start, stop, gates.dtype, kh_buf)
            keep_c = _keep_factor(zone_c, valid, start, stop, gates.dtype, kc_buf)
            carry_h, carry_c = _carry_factor(keep_h, carry_h_buf), _carry_factor(keep_c, carry_c_buf)
            gate_grads = gate_grads_all[span]
            factors = gate_grads.view(L, N, G, H).unbind(2)

            # ---- the factors of the module docstring, for the whole chunk at once ----------------------
            if ln_cw is None:  # s = tanh(c_new) = 2 sigmoid(2 c_new) - 1
                shown = torch.add(c_new, c_new, out=shown_buf[:L]).sigmoid_().mul_(2).sub_(1)
            else:
                shown = torch.stack(shown_c[start:stop], out=shown_buf[:L])
            k_o = torch.mul(o, shown, out=factors[-1])
            k_s = torch.addcmul(o, k_o, shown, value=-1, out=k_s_buf[:L])  # o (1 - s^2)
            k_o.addcmul_(k_o, o, value=-1)  # s o (1 - o)
            if keep_h is not None:
                k_o.mul_(keep_h)
                k_s.mul_(keep_h)
            if peephole is not None and ln_cw is None:
                k_s.addcmul_(k_o, p_o)
            k_op = None if k_op_buf is None else torch.mul(k_o, p_o, out=k_op_buf[:L])
            tmp = tmp_buf[:L]
            if coupled:
                k_i, k_f, k_g = None, factors[0], factors[1]
                torch.mul(f, i, out=k_f)  # f (1 - f) (c_{t-1} - g)
                for rows, src in c_prev:
                    k_f[rows].mul_(torch.sub(src, g[rows], out=tmp[rows]))
            else:
                k_i, k_f, k_g = factors[:3]
                torch.addcmul(i, i, i, value=-1, out=k_i).mul_(g)  # g i (1 - i)
                torch.addcmul(f, f, f, value=-1, out=k_f)  # c_{t-1} f (1 - f)
                for rows, src in c_prev:
                    k_f[rows].mul_(src)
            torch.addcmul(i, torch.mul(i, g, out=tmp), g, value=-1, out=k_g)  # i (1 - g^2)
            if peephole is not None:  # dc_{t-1} also flows through the peepholes of f (and i)
                fac = torch.addcmul(f, k_f, p_f, out=fac_buf[:L])
                if k_i is not None:
                    fac.addcmul_(k_i, p_i)

            # ---- back through the chunk's steps ------------------------------------------------------
            deltas = delta_buf[:L]  # delta_t: starts as the output's gradient, then gets what flows back
            if d_out is None:
                deltas.zero_()
            elif valid is None:
                deltas.copy_(d_out[start:stop])
            else:
                torch.mul(d_out[start:stop], valid[start:stop], out=deltas)
            # where dL/dh_{t-1} of each step goes: the delta of the step before it, or `back` at the chunk's
            # edge (dh0 for the first step: not computed unless asked for)
            edge = back if not holds_first_step or need_h0 else None
            targets = list(step_delta[1:L]) + [edge] if reverse else [edge] + list(step_delta[: L - 1])
            steps = zip(
                step_delta[:L], targets, *(rows[span] for rows in grad_rows), step_k_s[:L],
                fac_rows[start:stop] if peephole is None else fac_rows[:L],
                _rows(keep_c, L, dc), _rows(carry_c, L, dc), _rows(carry_h, L, dc),
                nothing if k_op is None else k_op.unbind(0),
                *((nothing,) * 6 if ln_hh is None else
                  (rows[start:stop] for rows in ln_rows)),
            )
            steps = list(steps) if reverse else list(steps)[::-1]  # backward meets the steps in reverse
            steps[0][0].add_(back)  # what reached this chunk's last step from the later ones
            back.zero_()
            d_rec = [] if ln_hh is not None else None  # d of the recurrent products (through LN_hh)
            for (dh, target, gg, gg_c, gg_o, k_s_t, fac_t, kc, cc, ch, k_op_t, cn, mu_ct, rstd_ct, a, mu,
                 rstd) in steps:
                # d c_new: its kept share of dc_t, and from h_new through tanh(LN_c(c_new)) and o's peephole
                if ln_cw is None:
                    if kc is None:
                        torch.addcmul(dc, dh, k_s_t, out=dc_new)
                    else:
                        torch.mul(dc, kc, out=dc_new).addcmul_(dh, k_s_t)
                else:
                    d_cell, d_gain, d_bias = _ln_backward(torch.mul(dh, k_s_t, out=d_shown), cn, (H,), mu_ct,
                                                          rstd_ct, ln_cw, ln_cb, cell_mask)
                    gain_grads[1].append(d_gain)
                    gain_grads[2].append(d_bias)
                    if kc is None:
                        torch.add(d_cell, dc, out=dc_new)
                    else:
                        torch.addcmul(d_cell, dc, kc, out=dc_new)
                    if k_op_t is not None:
                        dc_new.addcmul_(dh, k_op_t)
                gg_c.mul_(dc_new_3)  # d a_i, d a_f, d a_g
                gg_o.mul_(dh)  # d a_o
                # dc_{t-1} = dc_new F + (1 - k^c) dc_t
                if cc is None:
                    torch.mul(dc_new, fac_t, out=dc)
                else:
                    dc.mul_(cc).addcmul_(dc_new, fac_t)
                if ln_hh is not None:  # through LN_hh to the recurrent product
                    gg, d_gain, _ = _ln_backward(gg, a, (GH,), mu, rstd, ln_hh, None, hh_mask)
                    d_rec.append(gg)
                    gain_grads[0].append(d_gain)
                if target is None:
                    continue
                # dh_{t-1} = (1 - k^h) delta_t + m * (d a W_hh)
                if ch is not None:
                    target.addcmul_(dh, ch)
                if mask is None:
                    target.addmm_(gg, weight_hh)
                else:
                    target.addcmul_(torch.mm(gg, weight_hh, out=masked), mask)

            # ---- the chunk's share of the parameter gradients ----------------------------------------
            if need_w:
                if ln_hh is not None:
                    d_rec = torch.stack(d_rec if reverse else d_rec[::-1], out=d_a_buf[:L])
                else:
                    d_rec = gate_grads
                h_prev = _prev_segments(states_h, h0, start, stop, reverse)
                if mask is not None:
                    h_rec = h_rec_buf[:L]
                    for rows, src in h_prev:
                        torch.mul(src, mask, out=h_rec[rows])
                    h_prev = [(slice(0, L), h_rec)]
                for rows, src in h_prev:
                    n_rows = rows.stop - rows.start
                    grad_wt.addmm_(src.reshape(n_rows * N, H).t(), d_rec[rows].reshape(n_rows * N, GH))
            if grad_b is not None:
                grad_b.add_(gate_grads.sum((0, 1)))
            if grad_p is not None:
                gg3 = gate_grads.view(L, N, G, H)
                grad_p[-1].add_(torch.mul(gg3[:, :, G - 1], c_new, out=tmp).sum((0, 1)))  # d a_o c_new
                n_in = G - 2  # i and f see c_{t-1} (coupled: f)
                products = products_buf[:L]
                for rows, src in c_prev:
                    torch.mul(gg3[rows, :, :n_in], src.unsqueeze(2), out=products[rows])
                grad_p[:n_in].add_(products.sum((0, 1)))

        if need_b and grad_b is None:
            grad_b = gate_grads_all.sum((0, 1))
        grad_ln_hh, grad_ln_cw, grad_ln_cb = (torch.stack(g).sum(0) if need and g else None for need, g in
                                              zip((need_ln_hh, need_ln_cw, need_ln_cb), gain_grads))
        return (gate_grads_all if need_zx else None, back if need_h0 else None, dc if need_c0 else None,
                None if grad_wt is None else grad_wt.t(), grad_b if need_b else None,
                grad_p, grad_ln_hh, grad_ln_cw, grad_ln_cb, None, None, None, None, None, None, None)


def lstm_sequence(
    zx: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    *,
    peephole: Tensor | None = None,
    coupled: bool = False,
    ln_hh_weight: Tensor | None = None,
    ln_cell_weight: Tensor | None = None,
    ln_cell_bias: Tensor | None = None,
    eps: float = 1e-5,
    valid: Tensor | None = None,
    reverse: bool = False,
    recurrent_mask: Tensor | None = None,
    zoneout_h: Tensor | float | None = None,
    zoneout_c: Tensor | float | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One direction of one LSTM-family layer over a whole sequence; returns ``(out, h_T, c_T)``.

    Args:
        zx: (T, N, G*H) the input's share of the gates for every step, ``W_ih x_t + b_ih``
            (:func:`lstmkit.nn.functional.lstm_input_projection`), G = 4 (3 when ``coupled``).
        h0, c0: (N, H) initial states. weight_hh: (G*H, H); bias_hh: (G*H,) or None.
        peephole: (3, H) rows p_i, p_f, p_o ((2, H): p_f, p_o when ``coupled``) or None.
        ln_hh_weight (G*H,), ln_cell_weight (H,), ln_cell_bias (H,): the layer-norm gains of the
            recurrent product and the cell (both or neither; the input's LN is the caller's).
        valid: (T, N, 1) bool, False on padding: the state is carried and the output is 0 there.
        reverse: run t = T-1 .. 0 (outputs stay indexed by input time).
        recurrent_mask: (N, H), multiplies h_{t-1} inside the recurrent product (recurrent dropout).
        zoneout_h, zoneout_c: (T, N, H) 0/1 keep-masks while training, the probability at evaluation.

    Output ``out`` is (T, N, H), zero where ``valid`` is False. Gradients flow to ``zx``, ``h0``,
    ``c0``, ``weight_hh``, ``bias_hh``, ``peephole`` and the layer-norm gains; the masks are constants.
    """
    if (ln_hh_weight is None) != (ln_cell_weight is None):
        raise ValueError("lstm_sequence: layer norm needs both ln_hh_weight and ln_cell_weight")
    if isinstance(zoneout_h, (int, float)) and not isinstance(zoneout_h, bool):
        zoneout_h = float(zoneout_h)
    if isinstance(zoneout_c, (int, float)) and not isinstance(zoneout_c, bool):
        zoneout_c = float(zoneout_c)
    T = zx.shape[0]
    if T == 0:  # nothing to run: the state passes through
        return zx.new_zeros(0, *h0.shape), h0.clone(), c0.clone()
    dtype = zx.dtype
    zoneout_h, zoneout_c = _as_keep(zoneout_h, dtype), _as_keep(zoneout_c, dtype)
    mask = None if recurrent_mask is None else recurrent_mask.detach().to(dtype)
    valid = None if valid is None else valid.detach()
    differentiable = (zx, h0, c0, weight_hh, bias_hh, peephole, ln_hh_weight, ln_cell_weight, ln_cell_bias)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in differentiable):
        return _LSTMSequence.apply(zx, h0, c0, weight_hh, bias_hh, peephole, ln_hh_weight, ln_cell_weight,
                                   ln_cell_bias, valid, mask, zoneout_h, zoneout_c, bool(coupled),
                                   bool(reverse), float(eps))
    # Nothing to differentiate: the same loop without the autograd node or anything kept for it.
    out, h_last, c_last, _ = _forward(zx, h0, c0, weight_hh, bias_hh, peephole, ln_hh_weight, ln_cell_weight,
                                      ln_cell_bias, float(eps), valid, mask, zoneout_h, zoneout_c, bool(coupled),
                                      bool(reverse), for_backward=False)
    return (out if valid is None else out.mul_(valid)), h_last, c_last
