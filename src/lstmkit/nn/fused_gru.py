r"""Fused backend of one GRU layer direction: the whole sequence in one autograd node.

:func:`gru_sequence` computes exactly what a loop over :func:`lstmkit.nn.functional.gru_step`
computes under autograd (``tests/nn/test_fused_gru.py`` holds the two to 1e-10 in float64), but as one
:class:`torch.autograd.Function` whose backward through time is written by hand. The reason is speed:
under autograd every torch call of every step becomes a graph node whose backward costs a few
microseconds of Python and dispatch, and a GRU step has about twenty of them. Here a forward step is
six torch calls (one more each for zoneout or padding and for a recurrent mask) and a backward step
three (four with a recurrent mask); everything that does not depend on the step before runs once per
chunk of steps, as a few large operations.

Equations of one step (gate order ``r | z | n`` as ``torch.nn.GRU``; ``zx_t = W_ih x_t + b_ih`` comes
from the caller, who computes it for all steps at once with autograd, so the input weights, the input
and ``b_ih`` get their gradients from autograd's own large products):

.. math::
    \tilde h_{t-1} &= h_{t-1} \odot m                      && \text{recurrent dropout mask, or } m = 1 \\
    [a^r_t, a^z_t, a^n_t] &= W_{hh} \tilde h_{t-1} + b_{hh}  && \text{the recurrent products, } (N, 3H) \\
    r_t &= \sigma(zx^r_t + a^r_t), \quad z_t = \sigma(zx^z_t + a^z_t)                              \\
    n_t &= \tanh(zx^n_t + r_t \odot a^n_t)                                                     \\
    h_t &= h_{t-1} + c_t \odot (1 - z_t) \odot (n_t - h_{t-1})

The last line is :func:`~lstmkit.nn.functional.gru_step`'s :math:`(1 - z_t) n_t + z_t h_{t-1}`,
followed by zoneout (:func:`~lstmkit.nn.functional.zoneout` with keep mask :math:`d_t`, or p at
evaluation) and by the padding carry (``valid``), folded into one factor

.. math::
    c_t = (1 - d_t) \odot v_t, \qquad v_t = 1 \text{ inside the sequence, } 0 \text{ past its end},

so a step past the end (:math:`c_t = 0`) leaves the state exactly as it was. The output is
:math:`o_t = v_t \odot h_t`.

Backward, with :math:`\delta_t = \partial L / \partial h_t` (the output's gradient plus what flows
back from step t+1) and :math:`a_t = c_t \odot (1 - z_t)`, the share of the new candidate in
:math:`h_t`:

.. math::
    \partial n^{pre}_t &= \delta_t \odot a_t \odot (1 - n_t^2)                    && (= \partial zx^n_t)\\
    \partial z^{pre}_t &= \delta_t \odot (h_{t-1} - n_t) \odot a_t \odot z_t         \\
    \partial a^n_t &= \partial n^{pre}_t \odot r_t, \qquad
    \partial r^{pre}_t = \partial n^{pre}_t \odot a^n_t \odot r_t (1 - r_t)          \\
    \delta_{t-1} &= \partial o_{t-1} \odot v_{t-1} + \delta_t \odot (1 - a_t)
                   + \big([\partial r^{pre}_t, \partial z^{pre}_t, \partial a^n_t] \, W_{hh}\big) \odot m

Every gate gradient is :math:`\delta_t` times a factor that the forward pass already fixed, so the
factors :math:`K_t = [K^r_t, K^z_t, K^{an}_t]` (the three gradients above divided by
:math:`\delta_t`) are computed for a whole chunk of steps at once before the chunk's loop, and a
backward step is one broadcast product :math:`\delta_t K_t`, one carry and one matrix product. The
gate gradients land in d zx's (T, N, 3H) buffer, from which ``dW_hh`` is one large product per chunk
and ``db_hh`` one sum; afterwards their n block is replaced by :math:`\partial zx^n_t`, which lacks
the factor :math:`r_t` of the recurrent share.

Two implementation choices are about speed only: :math:`n_t` is computed as
:math:`2\sigma(2x) - 1 = \tanh(x)`, because torch's CPU tanh is several times slower than its
sigmoid; and time is cut into chunks of about ``_CHUNK_ELEMENTS`` values per (steps, N, H) block,
whose temporaries are reused from chunk to chunk while in cache instead of being allocated for the
whole sequence.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["gru_sequence"]


def gru_sequence(
    zx: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    *,
    valid: Tensor | None = None,
    reverse: bool = False,
    recurrent_mask: Tensor | None = None,
    zoneout_h: Tensor | float | None = None,
) -> tuple[Tensor, Tensor]:
    """Run one GRU direction over a whole sequence. Returns (out (T, N, H), h_T (N, H)).

    Args:
        zx: (T, N, 3H), ``W_ih x_t + b_ih`` for every step, computed by the caller with autograd.
        h0: (N, H), the state before the first step processed.
        weight_hh: (3H, H); bias_hh: (3H,) or None.
        valid: None or (T, N, 1) bool, False where step t lies past sequence n's end: that step keeps
            the state unchanged and its output is 0. With ``reverse`` the invalid steps come first in
            processing order, so the reverse direction starts at each sequence's last valid step.
        reverse: process t = T-1 .. 0; ``out`` is indexed by input time either way.
        recurrent_mask: None or (N, H), already scaled by 1/(1-p); multiplies h_{t-1} inside the three
            recurrent products only (the carry z_t * h_{t-1} uses the unmasked state). Not differentiated.
        zoneout_h: None; a float p (evaluation: h_t = zoneout(h_new, h_{t-1}, p)); or a (T, N, H) 0/1
            tensor of keep masks (training). Applied before the ``valid`` carry. Not differentiated.

    Gradients flow to ``zx``, ``h0``, ``weight_hh`` and ``bias_hh``.
    """
    T, N, H3 = zx.shape
    H = h0.shape[-1]
    if H3 != 3 * H or tuple(h0.shape) != (N, H) or tuple(weight_hh.shape) != (3 * H, H):
        raise ValueError(
            f"gru_sequence: expected zx (T, N, 3H), h0 (N, H) and weight_hh (3H, H), got zx "
            f"{tuple(zx.shape)}, h0 {tuple(h0.shape)} and weight_hh {tuple(weight_hh.shape)}"
        )
    if T == 0:
        raise ValueError("gru_sequence: the sequence is empty (T = 0)")
    keep = _carry_factor(zx, valid, zoneout_h)
    mask = None if recurrent_mask is None else recurrent_mask.detach().to(zx.dtype)
    differentiable = (zx, h0, weight_hh) if bias_hh is None else (zx, h0, weight_hh, bias_hh)
    if torch.is_grad_enabled() and any(t.requires_grad for t in differentiable):
        return _GRUSequence.apply(zx, h0, weight_hh, bias_hh, keep, valid, mask, reverse)
    # Nothing to differentiate: run the same loop without the autograd node or anything kept for it.
    T, N, H3 = zx.shape
    out = zx.new_empty(T, N, H3 // 3)
    _forward(zx, h0, weight_hh, bias_hh, keep, mask, reverse, out, for_backward=False)
    h_last = (out[0] if reverse else out[-1]).clone()
    return (out if valid is None else out.mul_(valid)), h_last


def _carry_factor(zx: Tensor, valid: Tensor | None, zoneout_h: Tensor | float | None) -> Tensor | float | None:
    """c_t of the module docstring: (T, N, H), (T, N, 1), a float, or None where it is 1 everywhere."""
    if isinstance(zoneout_h, Tensor) and zoneout_h.dim() == 0:
        zoneout_h = float(zoneout_h)
    if zoneout_h is None or (isinstance(zoneout_h, float) and zoneout_h == 0.0):
        kept: Tensor | float | None = None
    elif isinstance(zoneout_h, Tensor):
        if tuple(zoneout_h.shape) != tuple(zx.shape[:2]) + (zx.shape[2] // 3,):
            raise ValueError(f"gru_sequence: zoneout mask must be (T, N, H), got {tuple(zoneout_h.shape)}")
        kept = 1 - zoneout_h.detach().to(zx.dtype)  # 1 where the unit takes its new value
    else:
        kept = 1.0 - float(zoneout_h)
    if valid is None:
        return kept
    v = valid.detach().to(zx.dtype)  # (T, N, 1): 1 inside the sequence, 0 in the padding
    return v if kept is None else v * kept


def _forward(zx, h0, weight_hh, bias_hh, keep, mask, reverse, states: Tensor, *, for_backward: bool):
    """The loop over time: writes the state after step t into ``states[t]`` (T, N, H). With
    ``for_backward`` returns what backward needs besides, the gates (T, N, 3H) holding [r_t, z_t, a^n_t]
    and the candidates n_t (T, N, H); without it those live in buffers of one chunk of steps, reused."""
    T, N, H3 = zx.shape
    H = H3 // 3
    C = _chunk_steps(T, N, H)
    # each chunk's gates are initialised just before its steps run, while they are still in cache
    stored = T if for_backward else C
    gates = zx.new_empty(stored, N, H3)
    candidates = zx.new_empty(stored, N, H)
    minus_one, two = zx.new_full((), -1.0), zx.new_full((), 2.0)
    weight_t = weight_hh.t()
    masked = torch.empty_like(h0) if mask is not None else None

    h = h0
    for start, stop in _chunks(T, C, backwards=reverse):
        L = stop - start
        at = slice(start, stop) if for_backward else slice(0, L)
        chunk_gates, chunk_n = gates[at], candidates[at]
        # gates[t] starts as zx^{r,z}_t + b_hh^{r,z} and b_hh^n; the step's recurrent product is added in
        # place (one addmm), giving the r and z pre-activations and a^n_t = W_hn h + b_hn side by side.
        if bias_hh is None:
            chunk_gates[..., : 2 * H] = zx[start:stop, :, : 2 * H]
            chunk_gates[..., 2 * H:] = 0
        else:
            torch.add(zx[start:stop, :, : 2 * H], bias_hh[: 2 * H], out=chunk_gates[..., : 2 * H])
            chunk_gates[..., 2 * H:] = bias_hh[2 * H:]
        # tanh(x) = 2 sigmoid(2x) - 1 (torch's CPU tanh is several times slower than its sigmoid): n_t
        # is built from a sigmoid of the doubled pre-activation, starting from 2 zx^n_t.
        torch.mul(zx[start:stop, :, 2 * H:], 2, out=chunk_n)

        step_gates = chunk_gates.unbind(0)
        step_rz = chunk_gates[..., : 2 * H].unbind(0)  # r | z, contiguous per row: one sigmoid for both
        step_r = chunk_gates[..., :H].unbind(0)
        step_z = chunk_gates[..., H: 2 * H].unbind(0)
        step_an = chunk_gates[..., 2 * H:].unbind(0)
        step_n = chunk_n.unbind(0)
        step_h = states[start:stop].unbind(0)
        step_keep = keep[start:stop].unbind(0) if isinstance(keep, Tensor) else [keep] * L
        for j in (range(L - 1, -1, -1) if reverse else range(L)):
            step_gates[j].addmm_(h if mask is None else torch.mul(h, mask, out=masked), weight_t)
            step_rz[j].sigmoid_()
            n = step_n[j].addcmul_(step_r[j], step_an[j], value=2).sigmoid_()  # sigmoid(2 (zx^n + r a^n))
            torch.addcmul(minus_one, n, two, out=n)  # n_t = 2 sigmoid(2 x) - 1 = tanh(x)
            h_new = torch.lerp(n, h, step_z[j], out=step_h[j])  # (1 - z) n + z h
            if keep is not None:
                torch.lerp(h, h_new, step_keep[j], out=h_new)  # h + c (h_new - h): zoneout, then padding
            h = h_new
    return (gates, candidates) if for_backward else None


def _before_and_after(states: Tensor, reverse: bool) -> tuple[Tensor, Tensor]:
    """Views (T, N, H) of the (T+1, N, H) states buffer: the state each step starts from and the one it
    leaves. h0 is row 0 (row T for the reverse direction), so h_{t-1} of every step is a plain view."""
    return (states[1:], states[:-1]) if reverse else (states[:-1], states[1:])


# Long sequences are worked through in chunks of about this many elements per (steps, N, H) block: the
# backward pass computes the per-step factors K_t of a chunk together (a few large operations instead of
# a few per step) into scratch buffers that stay in cache and are reused by the next chunk, instead of
# whole-sequence temporaries that would each be written to fresh memory; inference keeps its gates in
# such buffers too.
_CHUNK_ELEMENTS = 1 << 17


def _chunk_steps(T: int, N: int, H: int) -> int:
    return max(1, min(T, _CHUNK_ELEMENTS // (N * H)))


def _chunks(T: int, C: int, *, backwards: bool) -> list[tuple[int, int]]:
    """The chunks [start, stop) of C steps covering 0..T-1, in increasing or (backwards) decreasing time."""
    chunks = [(start, min(start + C, T)) for start in range(0, T, C)]
    return chunks[::-1] if backwards else chunks


class _GRUSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, zx, h0, weight_hh, bias_hh, keep, valid, mask, reverse):
        T, N, H3 = zx.shape
        states = zx.new_empty(T + 1, N, H3 // 3)
        states[-1 if reverse else 0] = h0
        _, after = _before_and_after(states, reverse)
        gates, candidates = _forward(zx, h0, weight_hh, bias_hh, keep, mask, reverse, after, for_backward=True)
        # fresh outputs, not views of the saved states, so that the caller may change them in place
        out = after.clone() if valid is None else after * valid
        h_last = states[0 if reverse else -1].clone()
        keep_tensor = keep if isinstance(keep, Tensor) else None
        ctx.save_for_backward(weight_hh, states, gates, candidates, keep_tensor, valid, mask)
        ctx.keep = keep if not isinstance(keep, Tensor) else None
        ctx.reverse = reverse
        ctx.has_bias = bias_hh is not None
        return out, h_last

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, grad_last):
        weight_hh, states, gates, candidates, keep, valid, mask = ctx.saved_tensors
        if keep is None:
            keep = ctx.keep
        reverse = ctx.reverse
        T, N, H = gates.shape[0], gates.shape[1], gates.shape[2] // 3
        before, _ = _before_and_after(states, reverse)
        need_zx, need_h0, need_w, need_b = ctx.needs_input_grad[:4]
        need_b = need_b and ctx.has_bias

        C = _chunk_steps(T, N, H)
        share_buf, carry_buf, k_n_buf, delta_buf, masked_buf = [gates.new_empty(C, N, H) for _ in range(5)]
        factor_buf = gates.new_empty(C, N, 3 * H)  # K_t = [K^r_t, K^z_t, K^an_t]
        # [d r^pre, d z^pre, d a^n] per step, what the recurrent products receive; written straight into
        # d zx, whose n block is replaced once the chunk's weight gradient has been taken.
        grad_zx = gates.new_empty(T, N, 3 * H) if need_zx else None
        gate_grad_buf = None if need_zx else gates.new_empty(C, N, 3 * H)
        grad_w = weight_hh.new_zeros(3 * H, H) if need_w else None
        grad_b = weight_hh.new_zeros(3 * H) if need_b else None
        one = gates.new_ones(())
        back = grad_last.clone()  # dL/dh reaching the state before the steps done so far (h0 at the end)
        masked = torch.empty_like(back) if mask is not None else None

        # chunks in the order backward meets them: the forward direction's last time steps first, the
        # reverse direction's first time steps first (it processed them last)
        chunks = _chunks(T, C, backwards=not reverse)
        for start, stop in chunks:
            L = stop - start
            holds_first_step = (start, stop) == chunks[-1]  # the step whose h_{t-1} is h0
            r, z, a_n = gates[start:stop, :, :H], gates[start:stop, :, H: 2 * H], gates[start:stop, :, 2 * H:]
            n = candidates[start:stop]
            h_prev = before[start:stop]
            kept = keep[start:stop] if isinstance(keep, Tensor) else keep

            # ---- the factors K_t of the module docstring, for the whole chunk at once ----------------
            share = torch.sub(one, z, out=share_buf[:L])  # a_t = c_t (1 - z_t): weight of n_t in h_t
            if kept is not None:
                share.mul_(kept)
                carry = torch.sub(one, share, out=carry_buf[:L])  # 1 - a_t: weight of h_{t-1} in h_t
            else:
                carry = z
            k_n = torch.mul(share, n, out=k_n_buf[:L])
            k_n = torch.addcmul(share, k_n, n, value=-1, out=k_n)  # a (1 - n^2) = d n^pre / d h_t
            factors = factor_buf[:L]
            k_r, k_z, k_an = factors[..., :H], factors[..., H: 2 * H], factors[..., 2 * H:]
            torch.sub(h_prev, n, out=k_z).mul_(z).mul_(share)  # (h_{t-1} - n) z a = d z^pre / d h_t
            torch.mul(k_n, r, out=k_an)  # d a^n = d n^pre r
            torch.mul(k_an, a_n, out=k_r)
            k_r.addcmul_(k_r, r, value=-1)  # d n^pre a^n r (1 - r) = d r^pre / d h_t

            # ---- back through the chunk's steps: 3 torch calls a step (4 with a recurrent mask) ------
            # delta_t starts as the output's gradient dL/do_t v_t (o_t = v_t h_t); each step then adds
            # what flows back into the step before it.
            deltas = delta_buf[:L]
            if valid is None:
                deltas.copy_(grad_out[start:stop])
            else:
                torch.mul(grad_out[start:stop], valid[start:stop], out=deltas)
            gate_grads = grad_zx[start:stop] if need_zx else gate_grad_buf[:L]
            step_delta = deltas.unbind(0)
            step_delta_3 = deltas.unsqueeze(2).unbind(0)  # (N, 1, H): broadcast over the three gate blocks
            step_factors = factors.view(L, N, 3, H).unbind(0)
            step_gate_grads = gate_grads.unbind(0)
            step_gate_grads_3 = gate_grads.view(L, N, 3, H).unbind(0)
            step_carry = carry.unbind(0)
            order = range(L) if reverse else range(L - 1, -1, -1)
            step_delta[order[0]].add_(back)  # what reached this chunk's last step from the later ones
            for j in order:
                torch.mul(step_factors[j], step_delta_3[j], out=step_gate_grads_3[j])
                earlier = j + 1 if reverse else j - 1  # the step processed before j in the forward pass
                if 0 <= earlier < L:  # delta_{t-1} += delta_t (1 - a_t) + (gate grads W_hh) m
                    target = step_delta[earlier].addcmul_(step_delta[j], step_carry[j])
                elif holds_first_step and not need_h0:
                    break
                else:  # it lies in the next chunk (or is h0): keep what reaches it in `back`
                    target = torch.mul(step_delta[j], step_carry[j], out=back)
                if mask is None:
                    target.addmm_(step_gate_grads[j], weight_hh)
                else:
                    target.addcmul_(torch.mm(step_gate_grads[j], weight_hh, out=masked), mask)

            # ---- the chunk's share of the parameter gradients: one product and one sum -------------
            flat_gate_grads = gate_grads.view(L * N, 3 * H)
            if need_w:
                recurrent_in = h_prev if mask is None else torch.mul(h_prev, mask, out=masked_buf[:L])
                grad_w.addmm_(flat_gate_grads.t(), recurrent_in.reshape(L * N, H))
            if need_b:
                grad_b.add_(flat_gate_grads.sum(0))
            if need_zx:  # d zx^n = d n^pre, without the factor r that the recurrent share carries
                torch.mul(deltas, k_n, out=gate_grads[..., 2 * H:])
        return grad_zx, back if need_h0 else None, grad_w, grad_b, None, None, None, None
