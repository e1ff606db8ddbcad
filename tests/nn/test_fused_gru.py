"""The fused GRU direction (lstmkit.nn.fused_gru.gru_sequence) against a plain autograd loop over gru_step."""
import pytest
import torch
from torch.autograd import gradcheck

from lstmkit.nn import fused_gru
from lstmkit.nn.functional import gru_step, zoneout
from lstmkit.nn.fused_gru import gru_sequence

T, N, H = 7, 4, 5
LENGTHS = [7, 1, 4, 6]  # full, a single step, two in between


def reference(zx, h0, weight_hh, bias_hh, *, valid=None, reverse=False, recurrent_mask=None, zoneout_h=None):
    """The definition: one gru_step per time step under autograd."""
    h = h0
    out = [None] * zx.shape[0]
    for t in (reversed(range(zx.shape[0])) if reverse else range(zx.shape[0])):
        h_recurrent = h if recurrent_mask is None else h * recurrent_mask
        h_new, _ = gru_step(None, h, None, weight_hh, None, bias_hh, x_projected=zx[t], h_recurrent=h_recurrent)
        if zoneout_h is not None:
            h_new = zoneout(h_new, h, zoneout_h if isinstance(zoneout_h, float) else zoneout_h[t])
        if valid is not None:
            h_new = torch.where(valid[t], h_new, h)
            o = torch.where(valid[t], h_new, torch.zeros((), dtype=h.dtype))
        else:
            o = h_new
        out[t] = o
        h = h_new
    return torch.stack(out), h


def make_case(case: str, dtype=torch.float64, seed: int = 0, T: int = T):
    """Inputs of one test case: (differentiable tensors, keyword arguments). Drawn in float64 and then
    rounded to ``dtype``, so the cases of two dtypes hold the same numbers."""
    g = torch.Generator().manual_seed(seed)
    zx = torch.randn(T, N, 3 * H, generator=g, dtype=torch.float64).to(dtype)
    h0 = torch.randn(N, H, generator=g, dtype=torch.float64).to(dtype)
    weight_hh = (torch.randn(3 * H, H, generator=g, dtype=torch.float64) / H ** 0.5).to(dtype)
    bias_hh = None if case == "no_bias" else torch.randn(3 * H, generator=g, dtype=torch.float64).to(dtype)
    lengths = torch.tensor(LENGTHS)
    valid = (torch.arange(T)[:, None] < lengths[None, :]).unsqueeze(-1)  # (T, N, 1)
    recurrent_mask = (torch.rand(N, H, generator=g) > 0.3).to(dtype) / 0.7
    zoneout_mask = (torch.rand(T, N, H, generator=g) < 0.3).to(dtype)
    kwargs = {
        "plain": {},
        "reverse": {"reverse": True},
        "valid": {"valid": valid},
        "valid_reverse": {"valid": valid, "reverse": True},
        "recurrent_mask": {"recurrent_mask": recurrent_mask},
        "zoneout_mask": {"zoneout_h": zoneout_mask},
        "zoneout_float": {"zoneout_h": 0.3},
        "all": {"valid": valid, "reverse": True, "recurrent_mask": recurrent_mask, "zoneout_h": zoneout_mask},
        "all_forward_zoneout_float": {"valid": valid, "recurrent_mask": recurrent_mask, "zoneout_h": 0.3},
        "no_bias": {"valid": valid, "recurrent_mask": recurrent_mask},
    }[case]
    tensors = [t.requires_grad_() for t in (zx, h0, weight_hh, bias_hh) if t is not None]
    return tensors, kwargs


CASES = ["plain", "reverse", "valid", "valid_reverse", "recurrent_mask", "zoneout_mask", "zoneout_float", "all",
         "all_forward_zoneout_float", "no_bias"]


def outputs_and_grads(fn, tensors, kwargs, seed: int = 1, wanted=None):
    """Forward, then the gradients (of the tensors at positions ``wanted``, default all) of a loss with
    random weights on every output and on h_T."""
    zx, h0, weight_hh, *bias = tensors
    out, h_last = fn(zx, h0, weight_hh, bias[0] if bias else None, **kwargs)
    g = torch.Generator().manual_seed(seed)
    grad_out = torch.randn(out.shape, generator=g, dtype=torch.float64).to(out.device, out.dtype)
    grad_last = torch.randn(h_last.shape, generator=g, dtype=torch.float64).to(out.device, out.dtype)
    chosen = tensors if wanted is None else [tensors[i] for i in wanted]
    grads = torch.autograd.grad((out * grad_out).sum() + (h_last * grad_last).sum(), chosen)
    return out.detach(), h_last.detach(), grads


@pytest.mark.parametrize("chunked", [False, True], ids=["one_chunk", "chunks_of_2"])
@pytest.mark.parametrize("case", CASES)
def test_matches_the_autograd_loop_in_float64(case, chunked, monkeypatch):
    if chunked:  # backward then runs through time in chunks of 2 steps, the last one partial (T = 7)
        monkeypatch.setattr(fused_gru, "_CHUNK_ELEMENTS", 2 * N * H)
    tensors, kwargs = make_case(case)
    out_ref, h_ref, grads_ref = outputs_and_grads(reference, tensors, kwargs)
    out, h_last, grads = outputs_and_grads(gru_sequence, tensors, kwargs)
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-10)
    torch.testing.assert_close(h_last, h_ref, rtol=0, atol=1e-10)
    assert len(grads) == len(grads_ref)
    for grad, grad_ref in zip(grads, grads_ref):
        torch.testing.assert_close(grad, grad_ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("reverse", [False, True])
def test_one_step_and_a_batch_first_input(reverse):
    """T = 1 (h0 is the only earlier state) and zx laid out (N, T, 3H) in memory, as F.linear gives it
    for a batch-first input."""
    for steps in (1, T):
        tensors, kwargs = make_case("all", T=steps)
        kwargs["reverse"] = reverse
        zx_batch_first = tensors[0].detach().transpose(0, 1).contiguous().requires_grad_()
        tensors = [zx_batch_first.transpose(0, 1), *tensors[1:]]
        assert steps == 1 or not tensors[0].is_contiguous()
        out_ref, h_ref, grads_ref = outputs_and_grads(reference, tensors, kwargs)
        out, h_last, grads = outputs_and_grads(gru_sequence, tensors, kwargs)
        for a, b in [(out, out_ref), (h_last, h_ref), *zip(grads, grads_ref)]:
            torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_padding_behaves_as_documented():
    """Past a sequence's end the output is 0; the reverse direction starts at the last valid step."""
    (zx, h0, weight_hh, bias_hh), kwargs = make_case("valid_reverse")
    with torch.no_grad():
        out, h_last = gru_sequence(zx, h0, weight_hh, bias_hh, **kwargs)
        for n, length in enumerate(LENGTHS):
            assert (out[length:, n] == 0).all()
            alone, h_alone = gru_sequence(zx[:length, n: n + 1], h0[n: n + 1], weight_hh, bias_hh, reverse=True)
            torch.testing.assert_close(out[:length, n], alone[:, 0], rtol=0, atol=1e-12)
            torch.testing.assert_close(h_last[n], h_alone[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("chunked", [False, True], ids=["one_chunk", "chunks_of_2"])
@pytest.mark.parametrize("wanted", [(0,), (1,), (2,), (3,), (2, 3)])
def test_only_the_requested_gradients(wanted, chunked, monkeypatch):
    """needs_input_grad is honoured: gradients come only for the inputs that require them, unchanged."""
    if chunked:
        monkeypatch.setattr(fused_gru, "_CHUNK_ELEMENTS", 2 * N * H)
    tensors, kwargs = make_case("all")
    _, _, grads_ref = outputs_and_grads(reference, tensors, kwargs)
    for i, t in enumerate(tensors):
        t.requires_grad_(i in wanted)
    _, _, grads = outputs_and_grads(gru_sequence, tensors, kwargs, wanted=wanted)
    for i, grad in zip(wanted, grads):
        torch.testing.assert_close(grad, grads_ref[i], rtol=0, atol=1e-10)


def test_gradcheck_with_padding_reverse_and_masks():
    tensors, kwargs = make_case("all", T=3)  # lengths 3, 1, 3, 3 in a 3-step window

    def fn(zx, h0, weight_hh, bias_hh):
        return gru_sequence(zx, h0, weight_hh, bias_hh, **kwargs)

    assert gradcheck(fn, tuple(tensors))


@pytest.mark.parametrize("case", ["plain", "all"])
def test_float32_agrees_with_float64(case):
    tensors64, kwargs64 = make_case(case, torch.float64)
    tensors32, kwargs32 = make_case(case, torch.float32)
    out64, h64, grads64 = outputs_and_grads(gru_sequence, tensors64, kwargs64)
    out32, h32, grads32 = outputs_and_grads(gru_sequence, tensors32, kwargs32)
    for a, b in [(out32, out64), (h32, h64), *zip(grads32, grads64)]:
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), b, rtol=0, atol=2e-5)


@pytest.mark.parametrize("chunked", [False, True], ids=["one_chunk", "chunks_of_2"])
@pytest.mark.parametrize("case", ["plain", "all", "all_forward_zoneout_float"])
def test_no_grad_runs_the_same_forward(case, chunked, monkeypatch):
    """Without gradients the gates live in buffers of one chunk of steps; the values must not change."""
    if chunked:
        monkeypatch.setattr(fused_gru, "_CHUNK_ELEMENTS", 2 * N * H)
    tensors, kwargs = make_case(case)
    out_ref, h_ref = reference(*tensors, **kwargs)
    with torch.no_grad():
        out, h_last = gru_sequence(*tensors, **kwargs)
    assert out.grad_fn is None and h_last.grad_fn is None
    torch.testing.assert_close(out, out_ref.detach(), rtol=0, atol=1e-10)
    torch.testing.assert_close(h_last, h_ref.detach(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("case", ["plain", "valid_reverse"])
def test_outputs_may_be_changed_in_place(case):
    """As after torch.nn.GRU, the caller may change the outputs in place (an in-place dropout, say):
    they are fresh tensors, not views of what backward reads."""
    tensors, kwargs = make_case(case)
    results = []
    for fn in (reference, gru_sequence):
        out, h_last = fn(*tensors, **kwargs)
        out.mul_(2)
        h_last.add_(1)
        loss = (out * out).sum() + (h_last * h_last).sum()
        results.append((out.detach(), h_last.detach(), torch.autograd.grad(loss, tensors)))
    (out_ref, h_ref, grads_ref), (out, h_last, grads) = results
    for a, b in [(out, out_ref), (h_last, h_ref), *zip(grads, grads_ref)]:
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_rejects_mismatched_shapes():
    (zx, h0, weight_hh, bias_hh), _ = make_case("plain")
    with pytest.raises(ValueError, match="weight_hh"):
        gru_sequence(zx, h0, weight_hh[:, :-1], bias_hh)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    tensors, kwargs = make_case("all")
    out_cpu, h_cpu, grads_cpu = outputs_and_grads(gru_sequence, tensors, kwargs)
    cuda = torch.device("cuda")
    tensors = [t.detach().to(cuda).requires_grad_() for t in tensors]
    kwargs = {k: v.to(cuda) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    out, h_last, grads = outputs_and_grads(gru_sequence, tensors, kwargs)
    assert out.device.type == "cuda"
    for a, b in [(out, out_cpu), (h_last, h_cpu), *zip(grads, grads_cpu)]:
        torch.testing.assert_close(a.cpu(), b, rtol=0, atol=1e-10)
