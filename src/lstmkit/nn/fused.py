r"""The fused backend of the LSTM variants no vendor kernel covers: a hand-written backward through time.

``torch.nn.LSTM`` runs one fused kernel (oneDNN on CPU, cuDNN on GPU), but only for the standard
cell. A peephole, coupled-gate or layer-normalised LSTM, or one with zoneout or recurrent dropout,
written as a Python loop under autograd is 1.6-4x slower to train: autograd records every small op
of every step, and its backward computes the recurrent weight gradient as T small products.

:func:`lstm_sequence` runs one direction of one layer as a single :class:`torch.autograd.Function`:

* forward: the input's share of every step, :math:`\hat x_t = W_{ih} x_t + b_{ih}` (layer-normalised
  where asked), arrives computed for all steps in one matrix product by the caller (under autograd,
  so :math:`dW_{ih}`, :math:`dx` and :math:`db_{ih}` come from autograd's own large products); the
  loop does one recurrent product per step and the gate arithmetic in place, storing each step's
  gates and states into preallocated (T, N, ...) buffers, with no autograd graph;
* backward: one loop in reverse over the steps computes the gate gradients :math:`\delta_t` and
  :math:`dh_{t-1} = \delta_t W_{hh}` (one product per step); after it, the weight gradients are
  single large products over all steps at once,
  :math:`dW_{hh} = \sum_t \delta_t^\top \tilde h_{t-1} = \Delta^\top \tilde H`.

The equations are :func:`lstmkit.nn.functional.lstm_step`'s (peephole, coupled and ``norm``
variants included), wrapped as the layers wrap them: recurrent dropout multiplies :math:`h_{t-1}`
inside the recurrent product only, zoneout mixes old and new states, padding carries the state
unchanged. ``tests/nn/test_fused.py`` holds every output and gradient to 1e-10 of the autograd loop
in float64.

Backward of each forward line (the loop below computes them in this order; ``*`` is elementwise,
:math:`\sigma' = \sigma(1-\sigma)`, :math:`\tanh' = 1 - \tanh^2`, :math:`k` the zoneout keep-mask)::

    h_t = h_new + k_h (h_{t-1} - h_new)      dh_new = (1 - k_h) dh_t,   dh_{t-1} += k_h dh_t
    c_t = c_new + k_c (c_{t-1} - c_new)      dc_new = (1 - k_c) dc_t,   dc_{t-1} += k_c dc_t
    h_new = o * tanh(LN_c(c_new))            do = dh_new * tanh(.),     dc_new += LN_c'(dh_new * o * tanh'(.))
    o = sigma(a_o + p_o * c_new)             da_o = do * sigma'(.),      dc_new += da_o * p_o
    c_new = f * c_{t-1} + i * g              df = dc_new c_{t-1}, di = dc_new g, dg = dc_new i,  dc_{t-1} += dc_new f
    i = 1 - f (coupled)                      df -= di
    f = sigma(a_f + p_f * c_{t-1})           da_f = df * sigma'(.),      dc_{t-1} += da_f * p_f   (i likewise)
    g = tanh(a_g)                            da_g = dg * tanh'(.)
    a = xhat_t + LN_hh(W_hh (m * h_{t-1})) + b_hh     d xhat_t = da,  dh_{t-1} += m * (LN_hh'(da) W_hh)

and for layer norm :math:`y = \gamma \hat v + \beta`, :math:`\hat v = (v - \bar v) r`, :math:`r = 1/\sqrt{\mathrm{var}\,v + \epsilon}`:
:math:`dv = r\,(d\hat v - \overline{d\hat v} - \hat v\,\overline{d\hat v\,\hat v})` with
:math:`d\hat v = \gamma\, dy`, computed per step by torch's own layer-norm kernels (forward and
backward, one call each); :math:`d\gamma = \sum_t dy \odot \hat v` and :math:`d\beta = \sum_t dy`
after the loop.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["lstm_sequence"]


def _layer_norm(v: Tensor, weight: Tensor, bias: Tensor | None, eps: float, mean_out: Tensor, rstd_out: Tensor) -> Tensor:
    """LN over the last dimension in torch's one kernel, keeping its mean and 1/std for backward."""
    y, mean, rstd = torch.native_layer_norm(v, v.shape[-1:], weight, bias, eps)
    mean_out.copy_(mean)
    rstd_out.copy_(rstd)
    return y


def _layer_norm_backward(dy: Tensor, v: Tensor, mean: Tensor, rstd: Tensor, weight: Tensor) -> Tensor:
    """d v from d LN(v) (torch's kernel; the gain and bias gradients are summed after the loop)."""
    return torch.ops.aten.native_layer_norm_backward(dy, v, v.shape[-1:], mean, rstd, weight, None,
                                                     [True, False, False])[0]


class _LSTMSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, zx, h0, c0, weight_hh, bias_hh, peephole, ln_hh, ln_cell_weight, ln_cell_bias,
                valid, recurrent_mask, zoneout_h, zoneout_c, coupled, reverse, eps):
        T, N, GH = zx.shape
        H = h0.shape[-1]
        G = GH // H
        grad = torch.is_grad_enabled() or any(ctx.needs_input_grad)
        # b_hh joins the input's share once, for all steps (it sits after LN_hh, so this holds with norm too).
        pre_all = zx + bias_hh if bias_hh is not None else zx.clone()  # (T, N, G*H), becomes the gates in place
        w_t = weight_hh.t()  # (H, G*H)
        new = zx.new_empty
        out = new(T, N, H)
        h_rec = new(T, N, H)  # the h_{t-1} each step fed to its recurrent product (masked)
        c_prev_all = new(T, N, H)
        c_new_all = new(T, N, H)
        shown_all = new(T, N, H)  # tanh(LN_c(c_new))
        # With layer norm: the recurrent products W_hh h_rec and each LN's mean and 1/std per step.
        a_all = new(T, N, GH) if ln_hh is not None else None
        a_stats = (new(T, N, 1), new(T, N, 1)) if ln_hh is not None else (None, None)
        c_stats = (new(T, N, 1), new(T, N, 1)) if ln_cell_weight is not None else (None, None)
        if peephole is not None:
            p_i, p_f, p_o = (None, peephole[0], peephole[1]) if coupled else peephole.unbind(0)
        zero = zx.new_zeros(())
        h, c = h0, c0
        steps = range(T - 1, -1, -1) if reverse else range(T)
        pre_steps = pre_all.unbind(0)
        for t in steps:
            pre = pre_steps[t]  # (N, G*H): x_hat_t + b_hh, the gate pre-activations after the product below
            if recurrent_mask is None:
                hr = h
                h_rec[t] = h
            else:
                hr = torch.mul(h, recurrent_mask, out=h_rec[t])
            c_prev_all[t] = c
            if ln_hh is None:
                pre.addmm_(hr, w_t)
            else:
                a = torch.mm(hr, w_t, out=a_all[t])
                pre.add_(_layer_norm(a, ln_hh, None, eps, a_stats[0][t], a_stats[1][t]))
            if coupled:
                f_pre, g, o_pre = pre.split(H, dim=-1)
                i_pre = None
            else:
                i_pre, f_pre, g, o_pre = pre.split(H, dim=-1)
            if peephole is not None:
                f_pre.addcmul_(p_f, c)
                if i_pre is not None:
                    i_pre.addcmul_(p_i, c)
            g.tanh_()
            if coupled:  # c_new = f * c + (1 - f) * g = g + f * (c - g)
                f = f_pre.sigmoid_()
                c_new = torch.lerp(g, c, f, out=c_new_all[t])
            else:
                pre[:, : 2 * H].sigmoid_()
                c_new = torch.addcmul(f_pre * c, i_pre, g, out=c_new_all[t])
            if peephole is not None:
                o_pre.addcmul_(p_o, c_new)
            o = o_pre.sigmoid_()
            if ln_cell_weight is None:
                shown = torch.tanh(c_new, out=shown_all[t])
            else:
                normed = _layer_norm(c_new, ln_cell_weight, ln_cell_bias, eps, c_stats[0][t], c_stats[1][t])
                shown = torch.tanh(normed, out=shown_all[t])
            h_new = o * shown
            c_next = c_new
            if zoneout_h is not None:  # h_new + keep * (h - h_new)
                h_new = torch.lerp(h_new, h, zoneout_h if isinstance(zoneout_h, float) else zoneout_h[t])
            if zoneout_c is not None:
                c_next = torch.lerp(c_new, c, zoneout_c if isinstance(zoneout_c, float) else zoneout_c[t])
            if valid is not None:
                v = valid[t]
                h_new = torch.where(v, h_new, h)
                c_next = torch.where(v, c_next, c)
                torch.where(v, h_new, zero, out=out[t])
            else:
                out[t] = h_new
            h, c = h_new, c_next
        if grad:
            ctx.save_for_backward(weight_hh, peephole, ln_hh, ln_cell_weight, valid, recurrent_mask,
                                  zoneout_h if isinstance(zoneout_h, Tensor) else None,
                                  zoneout_c if isinstance(zoneout_c, Tensor) else None,
                                  pre_all, h_rec, c_prev_all, c_new_all, shown_all, a_all, *a_stats, *c_stats)
            ctx.zoneout = (zoneout_h if isinstance(zoneout_h, float) else None,
                           zoneout_c if isinstance(zoneout_c, float) else None)
            ctx.options = (coupled, reverse, bias_hh is not None, G)
            ctx.eps = eps
        return out, h, c

    @staticmethod
    def backward(ctx, d_out, d_hT, d_cT):
        (weight_hh, peephole, ln_hh, ln_cell_weight, valid, recurrent_mask, zone_h_mask, zone_c_mask,
         gates_all, h_rec, c_prev_all, c_new_all, shown_all, a_all, a_mean, a_rstd, c_mean,
         c_rstd) = ctx.saved_tensors
        eps = ctx.eps
        zone_h_p, zone_c_p = ctx.zoneout
        coupled, reverse, has_bias, G = ctx.options
        T, N, H = h_rec.shape
        # Everything that does not depend on the gradient flowing back is computed here, once for all
        # steps, so each step of the loop is a handful of products (Python costs ~5 us per torch call).
        blocks = gates_all.view(T, N, G, H)
        if coupled:
            f, g, o = blocks.unbind(2)
            i = 1 - f
        else:
            i, f, g, o = blocks.unbind(2)
        fac_o = shown_all * o * (1 - o)  # d a_o = dh_new * fac_o
        fac_shown = o * (1 - shown_all * shown_all)  # d (pre-tanh cell) = dh_new * fac_shown
        g_prime = i * (1 - g * g)
        if coupled:  # d a_f, d a_g = dc_new * fac[:, :, 0], dc_new * fac[:, :, 1]
            fac_c = torch.stack([(c_prev_all - g) * f * (1 - f), g_prime], dim=2)
        else:  # d a_i, d a_f, d a_g = dc_new * fac[:, :, 0..2]
            fac_c = torch.stack([g * i * (1 - i), c_prev_all * f * (1 - f), g_prime], dim=2)
        keep_h = zone_h_mask if zone_h_mask is not None else zone_h_p
        keep_c = zone_c_mask if zone_c_mask is not None else zone_c_p
        new_h = None if keep_h is None else 1 - keep_h  # the share of the new state in h_t
        new_c = None if keep_c is None else 1 - keep_c

        d_pre_all = torch.empty_like(gates_all)  # delta_t for every step: d x_hat (and d b_hh)
        d_blocks = d_pre_all.view(T, N, G, H)
        d_a_all = torch.empty_like(gates_all) if ln_hh is not None else d_pre_all  # d of W_hh h_rec
        d_shown_all = torch.empty_like(shown_all) if ln_cell_weight is not None else None
        if peephole is not None:
            p_i, p_f, p_o = (None, peephole[0], peephole[1]) if coupled else peephole.unbind(0)
        dh = d_hT if d_hT is not None else h_rec.new_zeros(N, H)
        dc = d_cT if d_cT is not None else h_rec.new_zeros(N, H)
        if d_out is None:
            d_out = h_rec.new_zeros(T, N, H)
        w = weight_hh
        steps = range(T) if reverse else range(T - 1, -1, -1)
        for t in steps:
            # The step's output h_t received d_out[t] and, through the next step, dh.
            dh_step = dh + d_out[t]
            dc_step = dc
            if valid is not None:
                v = valid[t]
                dh_carry = torch.where(v, 0.0, dh)  # skipped steps pass the gradient straight through
                dc_carry = torch.where(v, 0.0, dc)
                dh_step = torch.where(v, dh_step, 0.0)
                dc_step = torch.where(v, dc, 0.0)
            dh_new = dh_step if new_h is None else dh_step * (new_h if isinstance(new_h, float) else new_h[t])
            dc_zone = dc_step if new_c is None else dc_step * (new_c if isinstance(new_c, float) else new_c[t])
            d_blocks_t = d_blocks[t]
            d_o = d_blocks_t[:, G - 1]
            torch.mul(dh_new, fac_o[t], out=d_o)  # h_new = o * shown: through o's sigmoid
            if ln_cell_weight is None:
                dc_new = torch.addcmul(dc_zone, dh_new, fac_shown[t])  # ... and through tanh(c_new)
            else:
                d_shown = torch.mul(dh_new, fac_shown[t], out=d_shown_all[t])
                dc_new = dc_zone + _layer_norm_backward(d_shown, c_new_all[t], c_mean[t], c_rstd[t], ln_cell_weight)
            if peephole is not None:
                dc_new.addcmul_(d_o, p_o)
            # c_new = f * c_prev + i * g: all gate blocks but o at once
            torch.mul(dc_new.unsqueeze(1), fac_c[t], out=d_blocks_t[:, : G - 1])
            dc_prev = dc_new * f[t]
            if peephole is not None:
                dc_prev.addcmul_(d_blocks_t[:, 1 if not coupled else 0], p_f)
                if not coupled:
                    dc_prev.addcmul_(d_blocks_t[:, 0], p_i)
            # a = x_hat + LN_hh(W_hh h_rec) + b_hh
            d_pre = d_pre_all[t]
            if ln_hh is not None:
                d_a = _layer_norm_backward(d_pre, a_all[t], a_mean[t], a_rstd[t], ln_hh)
                d_a_all[t] = d_a
            else:
                d_a = d_pre
            dh_prev = d_a @ w  # (N, H)
            if recurrent_mask is not None:
                dh_prev.mul_(recurrent_mask)
            if keep_h is not None:  # the kept share of h_t was h_{t-1}
                if isinstance(keep_h, float):
                    dh_prev.add_(dh_step, alpha=keep_h)
                else:
                    dh_prev.addcmul_(dh_step, keep_h[t])
            if keep_c is not None:
                if isinstance(keep_c, float):
                    dc_prev.add_(dc_step, alpha=keep_c)
                else:
                    dc_prev.addcmul_(dc_step, keep_c[t])
            if valid is not None:
                dh_prev.add_(dh_carry)
                dc_prev.add_(dc_carry)
            dh, dc = dh_prev, dc_prev

        needs = ctx.needs_input_grad
        flat = lambda x: x.reshape(T * N, x.shape[-1])  # noqa: E731
        d_weight_hh = flat(d_a_all).t() @ flat(h_rec) if needs[3] else None
        d_bias_hh = d_pre_all.sum((0, 1)) if has_bias and needs[4] else None
        d_peephole = None
        if peephole is not None and needs[5]:
            # da_f * c_prev, da_i * c_prev, da_o * c_new summed over steps and sequences, one product each
            d_pre_blocks = d_pre_all.split(H, dim=-1)
            if coupled:
                d_f, d_o = d_pre_blocks[0], d_pre_blocks[2]
                d_peephole = torch.stack([(d_f * c_prev_all).sum((0, 1)), (d_o * c_new_all).sum((0, 1))])
            else:
                d_i, d_f, d_o = d_pre_blocks[0], d_pre_blocks[1], d_pre_blocks[3]
                d_peephole = torch.stack([(d_i * c_prev_all).sum((0, 1)), (d_f * c_prev_all).sum((0, 1)),
                                          (d_o * c_new_all).sum((0, 1))])
        # The gains' gradients: d LN summed against the normalised values, all steps at once.
        d_ln_hh = ((d_pre_all * (a_all - a_mean) * a_rstd).sum((0, 1))
                   if ln_hh is not None and needs[6] else None)
        d_ln_cw = d_ln_cb = None
        if ln_cell_weight is not None:
            d_ln_cw = (d_shown_all * (c_new_all - c_mean) * c_rstd).sum((0, 1)) if needs[7] else None
            d_ln_cb = d_shown_all.sum((0, 1)) if needs[8] else None
        return (d_pre_all if needs[0] else None, dh if needs[1] else None, dc if needs[2] else None,
                d_weight_hh, d_bias_hh, d_peephole, d_ln_hh, d_ln_cw, d_ln_cb,
                None, None, None, None, None, None, None)


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

    Output ``out`` is (T, N, H), zero where ``valid`` is False.
    """
    if (ln_hh_weight is None) != (ln_cell_weight is None):
        raise ValueError("lstm_sequence: layer norm needs both ln_hh_weight and ln_cell_weight")
    if isinstance(zoneout_h, (int, float)) and not isinstance(zoneout_h, bool):
        zoneout_h = float(zoneout_h)
    if isinstance(zoneout_c, (int, float)) and not isinstance(zoneout_c, bool):
        zoneout_c = float(zoneout_c)
    return _LSTMSequence.apply(zx, h0, c0, weight_hh, bias_hh, peephole, ln_hh_weight, ln_cell_weight,
                               ln_cell_bias, valid, recurrent_mask, zoneout_h, zoneout_c, bool(coupled),
                               bool(reverse), float(eps))
