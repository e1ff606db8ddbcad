"""The fused LSTM direction (lstmkit.nn.fused.lstm_sequence) against a plain autograd loop over lstm_step.

Every combination of the options (peephole, coupled gate, layer norm, padding, reverse, recurrent mask,
zoneout as masks or as probabilities) in float64 to 1e-10, outputs and every gradient; chunk boundaries;
gradcheck; the no-autograd path; a second backward of a retained graph; gradients asked for one input at
a time; float32 against float64.
"""
import itertools

import pytest
import torch
from torch.autograd import gradcheck

from lstmkit.nn import functional as F
from lstmkit.nn import fused
from lstmkit.nn.fused import lstm_sequence

F64 = torch.float64
T, N, H = 7, 4, 3
LENGTHS = [7, 1, 4, 6]  # full, a single step, two in between
NAMES = ["zx", "h0", "c0", "weight_hh", "bias_hh", "peephole", "ln_hh_weight", "ln_cell_weight", "ln_cell_bias"]


def reference(zx, h0, c0, weight_hh, bias_hh, *, peephole=None, coupled=False, ln_hh_weight=None,
              ln_cell_weight=None, ln_cell_bias=None, eps=1e-5, valid=None, reverse=False, recurrent_mask=None,
              zoneout_h=None, zoneout_c=None):
    """The definition: one lstm_step per time step under autograd, wrapped as the layers wrap it."""
    norm = None if ln_hh_weight is None else F.LSTMNorm(None, ln_hh_weight, ln_cell_weight, ln_cell_bias, eps)
    peep = None
    if peephole is not None:
        peep = (None, peephole[0], peephole[1]) if coupled else tuple(peephole.unbind(0))
    h, c = h0, c0
    out = [None] * zx.shape[0]
    for t in reversed(range(zx.shape[0])) if reverse else range(zx.shape[0]):
        h_rec = h if recurrent_mask is None else h * recurrent_mask
        h_new, c_new, _ = F.lstm_step(None, h_rec, c, None, weight_hh, None, bias_hh, x_projected=zx[t],
                                      peephole=peep, coupled=coupled, norm=norm)
        if zoneout_h is not None:
            h_new = F.zoneout(h_new, h, zoneout_h if isinstance(zoneout_h, float) else zoneout_h[t])
        if zoneout_c is not None:
            c_new = F.zoneout(c_new, c, zoneout_c if isinstance(zoneout_c, float) else zoneout_c[t])
        if valid is not None:
            h_new = torch.where(valid[t], h_new, h)
            c_new = torch.where(valid[t], c_new, c)
            out[t] = torch.where(valid[t], h_new, torch.zeros((), dtype=h.dtype))
        else:
            out[t] = h_new
        h, c = h_new, c_new
    return torch.stack(out), h, c


def make_case(peephole=False, coupled=False, layer_norm=False, valid=False, reverse=False, recurrent_mask=False,
              zoneout=None, bias=True, dtype=F64, seed=0, steps=T):
    """(tensors, kwargs): the differentiable inputs by name (None where unused) and the options. Drawn in
    float64 and rounded to ``dtype``, so the cases of two dtypes hold the same numbers."""
    g = torch.Generator().manual_seed(seed)

    def draw(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, dtype=F64) * scale).to(dtype)

    G = 3 if coupled else 4
    tensors = {
        "zx": draw(steps, N, G * H), "h0": draw(N, H), "c0": draw(N, H),
        "weight_hh": draw(G * H, H, scale=H ** -0.5), "bias_hh": draw(G * H) if bias else None,
        "peephole": draw(G - 1, H) if peephole else None,
        "ln_hh_weight": 1 + 0.3 * draw(G * H) if layer_norm else None,
        "ln_cell_weight": 1 + 0.3 * draw(H) if layer_norm else None,
        "ln_cell_bias": 0.3 * draw(H) if layer_norm else None,
    }
    for t in tensors.values():
        if t is not None:
            t.requires_grad_()
    kwargs = {"coupled": coupled, "reverse": reverse}
    if valid:
        kwargs["valid"] = (torch.arange(steps)[:, None] < torch.tensor(LENGTHS)[None, :]).unsqueeze(-1)
    if recurrent_mask:
        kwargs["recurrent_mask"] = ((torch.rand(N, H, generator=g) > 0.3) / 0.7).to(dtype)
    if zoneout == "mask":
        kwargs["zoneout_h"] = (torch.rand(steps, N, H, generator=g) < 0.3).to(dtype)
        kwargs["zoneout_c"] = (torch.rand(steps, N, H, generator=g) < 0.2).to(dtype)
    elif zoneout == "float":
        kwargs["zoneout_h"], kwargs["zoneout_c"] = 0.3, 0.2
    return tensors, kwargs


def call(fn, tensors, kwargs):
    positional = [tensors[name] for name in NAMES[:5]]
    return fn(*positional, **{name: tensors[name] for name in NAMES[5:]}, **kwargs)


def outputs_and_grads(fn, tensors, kwargs, seed=1, wanted=None):
    """Forward, then the gradients of the named inputs (default: all present) of a loss with random
    weights on out, h_T and c_T."""
    outputs = call(fn, tensors, kwargs)
    g = torch.Generator().manual_seed(seed)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=F64).to(o.device, o.dtype)).sum() for o in outputs)
    names = [n for n in NAMES if tensors[n] is not None] if wanted is None else wanted
    grads = torch.autograd.grad(loss, [tensors[n] for n in names])
    return [o.detach() for o in outputs], dict(zip(names, grads))


def assert_matches_reference(tensors, kwargs, atol=1e-10):
    outs_ref, grads_ref = outputs_and_grads(reference, tensors, kwargs)
    outs, grads = outputs_and_grads(lstm_sequence, tensors, kwargs)
    for name, a, b in zip(["out", "h_T", "c_T"], outs, outs_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=atol, msg=lambda m: f"{name}: {m}")
    assert grads.keys() == grads_ref.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], grads_ref[name], rtol=0, atol=atol, msg=lambda m: f"d {name}: {m}")


OPTIONS = ["peephole", "coupled", "layer_norm", "valid", "reverse", "recurrent_mask"]
COMBINATIONS = [dict(zip(OPTIONS, flags), zoneout=zoneout)
                for flags in itertools.product([False, True], repeat=len(OPTIONS))
                for zoneout in [None, "mask", "float"]]


def case_id(options):
    on = [name for name in OPTIONS if options[name]] + ([f"zoneout_{options['zoneout']}"] if options["zoneout"] else [])
    return "-".join(on) or "plain"


@pytest.mark.parametrize("options", COMBINATIONS, ids=[case_id(o) for o in COMBINATIONS])
def test_every_combination_matches_the_autograd_loop_in_float64(options):
    tensors, kwargs = make_case(**options)
    assert_matches_reference(tensors, kwargs)


@pytest.mark.parametrize("options", [
    {}, {"reverse": True, "valid": True}, {"peephole": True, "layer_norm": True, "zoneout": "mask"},
    {"coupled": True, "peephole": True, "recurrent_mask": True, "zoneout": "float", "valid": True, "reverse": True},
    {"bias": False, "valid": True, "layer_norm": True},
], ids=["plain", "valid_reverse", "peephole_ln_zoneout", "coupled_all_reverse", "no_bias"])
@pytest.mark.parametrize("chunk_steps", [1, 2, 3])
def test_chunk_boundaries(options, chunk_steps, monkeypatch):
    """Time cut into chunks of 1, 2 and 3 steps (T = 7: the last chunk partial for 2 and 3)."""
    monkeypatch.setattr(fused, "_CHUNK_ELEMENTS", chunk_steps * N * H)
    assert fused._chunk_steps(T, N, H) == chunk_steps
    tensors, kwargs = make_case(**options)
    assert_matches_reference(tensors, kwargs)


@pytest.mark.parametrize("reverse", [False, True])
def test_one_step_and_a_batch_first_input(reverse):
    """T = 1 (h0, c0 the only earlier states) and zx laid out (N, T, 4H) in memory, as F.linear gives it
    for a batch-first input."""
    for steps in (1, T):
        tensors, kwargs = make_case(peephole=True, valid=steps == T, recurrent_mask=True, zoneout="mask",
                                    reverse=reverse, steps=steps)
        tensors["zx"] = tensors["zx"].detach().transpose(0, 1).contiguous().requires_grad_().transpose(0, 1)
        assert steps == 1 or not tensors["zx"].is_contiguous()
        outs_ref, grads_ref = outputs_and_grads(reference, tensors, kwargs)
        outs, grads = outputs_and_grads(lstm_sequence, tensors, kwargs)
        for a, b in [*zip(outs, outs_ref), *zip(grads.values(), grads_ref.values())]:
            torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("coupled", [False, True], ids=["four_gates", "coupled"])
def test_gradcheck(coupled):
    """Finite differences on a tiny case with every option on (masks fixed)."""
    tensors, kwargs = make_case(peephole=True, coupled=coupled, layer_norm=True, valid=True, recurrent_mask=True,
                                zoneout="mask", reverse=coupled, seed=3)
    names = [n for n in NAMES if tensors[n] is not None]

    def fn(*inputs):
        return call(lstm_sequence, dict(tensors, **dict(zip(names, inputs))), kwargs)

    assert gradcheck(fn, [tensors[n] for n in names])


@pytest.mark.parametrize("options", [{}, {"layer_norm": True, "peephole": True, "zoneout": "mask", "valid": True},
                                     {"coupled": True, "reverse": True, "recurrent_mask": True, "zoneout": "float"}],
                         ids=["plain", "ln_peephole_zoneout_valid", "coupled_reverse_mask_zoneout_float"])
def test_without_autograd_the_values_are_the_same(options, monkeypatch):
    """Under no_grad (and in grad mode with nothing requiring a gradient) the loop runs without the autograd
    node, on buffers of one chunk: same outputs, nothing attached to a graph."""
    monkeypatch.setattr(fused, "_CHUNK_ELEMENTS", 3 * N * H)  # several chunks
    tensors, kwargs = make_case(**options)
    with_grad = call(lstm_sequence, tensors, kwargs)
    with torch.no_grad():
        without = call(lstm_sequence, tensors, kwargs)
    detached = call(lstm_sequence, {k: None if v is None else v.detach() for k, v in tensors.items()}, kwargs)
    for a, b, c in zip(with_grad, without, detached):
        assert b.grad_fn is None and not b.requires_grad and c.grad_fn is None
        torch.testing.assert_close(b, a.detach(), rtol=0, atol=1e-13)
        torch.testing.assert_close(c, a.detach(), rtol=0, atol=1e-13)
    if "valid" in kwargs:  # past a sequence's end the output is 0
        for n, length in enumerate(LENGTHS):
            assert (without[0][length:, n] == 0).all()


@pytest.mark.parametrize("options", [{}, {"layer_norm": True, "peephole": True, "zoneout": "float", "valid": True}])
def test_a_retained_graph_gives_the_same_gradients_twice(options):
    tensors, kwargs = make_case(**options)
    names = [n for n in NAMES if tensors[n] is not None]
    out, h_last, c_last = call(lstm_sequence, tensors, kwargs)
    loss = (out * out).sum() + h_last.sum() + (c_last * c_last).sum()
    first = torch.autograd.grad(loss, [tensors[n] for n in names], retain_graph=True)
    second = torch.autograd.grad(loss, [tensors[n] for n in names])
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("wanted", [["zx"], ["h0"], ["c0"], ["weight_hh"], ["bias_hh"], ["peephole"], ["ln_hh_weight"],
                                    ["ln_cell_weight", "ln_cell_bias"], ["h0", "weight_hh"]])
def test_only_the_gradients_asked_for(wanted):
    """Each input alone requiring a gradient: its gradient is the reference's, the others get none."""
    tensors, kwargs = make_case(peephole=True, layer_norm=True, valid=True, recurrent_mask=True, zoneout="mask")
    for name, t in tensors.items():
        t.requires_grad_(name in wanted)
    _, grads_ref = outputs_and_grads(reference, tensors, kwargs, wanted=wanted)
    outs, grads = outputs_and_grads(lstm_sequence, tensors, kwargs, wanted=wanted)
    for name in wanted:
        torch.testing.assert_close(grads[name], grads_ref[name], rtol=0, atol=1e-10)
    out, h_last, c_last = call(lstm_sequence, tensors, kwargs)
    (out.sum() + h_last.sum() + c_last.sum()).backward()
    assert all((t.grad is not None) == (name in wanted) for name, t in tensors.items())


def test_only_some_outputs_used():
    """Gradients from out alone, from h_T alone and from c_T alone (the others receive no gradient)."""
    tensors, kwargs = make_case(peephole=True, valid=True, zoneout="mask")
    names = [n for n in NAMES if tensors[n] is not None]
    for k in range(3):
        grads = torch.autograd.grad(call(lstm_sequence, tensors, kwargs)[k].sum(), [tensors[n] for n in names],
                                    allow_unused=True)
        grads_ref = torch.autograd.grad(call(reference, tensors, kwargs)[k].sum(), [tensors[n] for n in names],
                                        allow_unused=True)
        for a, b in zip(grads, grads_ref):
            torch.testing.assert_close(a if a is not None else torch.zeros_like(b), b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("options", [{}, {"peephole": True, "layer_norm": True, "valid": True, "recurrent_mask": True,
                                          "zoneout": "mask", "reverse": True}], ids=["plain", "all"])
def test_float32_within_1e5_of_float64(options):
    tensors64, kwargs64 = make_case(**options)
    tensors32, kwargs32 = make_case(**options, dtype=torch.float32)
    outs64, grads64 = outputs_and_grads(lstm_sequence, tensors64, kwargs64)
    outs32, grads32 = outputs_and_grads(lstm_sequence, tensors32, kwargs32)
    for a, b in [*zip(outs32, outs64), *zip(grads32.values(), grads64.values())]:
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), b, rtol=0, atol=2e-5)


def test_an_output_changed_in_place_is_reported():
    """``out`` is the buffer of the states backward reads: changing it in place is an autograd error, not a
    wrong gradient."""
    tensors, kwargs = make_case()
    out, _, _ = call(lstm_sequence, tensors, kwargs)
    out.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


@pytest.mark.parametrize("device", ["meta", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA"))])
def test_other_devices(device):
    """Every buffer and constant is made on the input's device: on "meta" (shapes only) forward and
    backward run through every option without meeting a CPU tensor; on CUDA the values are the CPU's."""
    tensors, kwargs = make_case(peephole=True, layer_norm=True, valid=True, recurrent_mask=True, zoneout="mask",
                                reverse=True)
    moved = {k: None if v is None else v.detach().to(device).requires_grad_() for k, v in tensors.items()}
    moved_kwargs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    if device == "meta":
        outputs = call(lstm_sequence, moved, moved_kwargs)
        names = [n for n in NAMES if moved[n] is not None]
        grads = torch.autograd.grad(sum(o.sum() for o in outputs), [moved[n] for n in names])
        assert all(t.device.type == "meta" for t in [*outputs, *grads])
        assert [g.shape for g in grads] == [moved[n].shape for n in names]
        return
    outs_cpu, grads_cpu = outputs_and_grads(lstm_sequence, tensors, kwargs)
    outs, grads = outputs_and_grads(lstm_sequence, moved, moved_kwargs)
    for a, b in [*zip(outs, outs_cpu), *zip(grads.values(), grads_cpu.values())]:
        assert a.device.type == "cuda"
        torch.testing.assert_close(a.cpu(), b, rtol=0, atol=1e-10)
