"""The Trainer's faster paths, each against the plain path it replaces, bit for bit: members backpropagated
one at a time, batches gathered at once, clipping skipped when it would multiply by 1, Adam's foreach
implementation; and a resume through them that is still bit-for-bit."""
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset
from train_models import assert_same_weights, weights

from lstmkit.registry import register_model
from lstmkit.runtime import seed_everything
from lstmkit.train import TrainConfig, Trainer, load_trainer_state
from lstmkit.train.distributed import make_loader
from lstmkit.train.optim import clip_gradients, make_optimizer
from crashes import Crash, CrashAtStep


@register_model("_test_train_ensemble")
class Ensemble(nn.Module):
    """``members`` LSTM + linear pairs sharing no parameter: (E, N, 1) in training, the mean (N, 1) in
    eval mode, member k alone (N, 1) with ``member=k``; ``calls`` records ("forward"|"backward", k)."""

    def __init__(self, members: int = 3, input_size: int = 2, hidden_size: int = 5):
        super().__init__()
        self.members, self.input_size, self.hidden_size = members, input_size, hidden_size
        self.lstms = nn.ModuleList(nn.LSTM(input_size, hidden_size, batch_first=True) for _ in range(members))
        self.heads = nn.ModuleList(nn.Linear(hidden_size, 1) for _ in range(members))
        self.calls: list[tuple[str, int]] = []

    def _member(self, k, x):
        self.calls.append(("forward", k))
        out, _ = self.lstms[k](x)
        if out.requires_grad:
            out.register_hook(lambda grad: self.calls.append(("backward", k)))
        return self.heads[k](out[:, -1])  # (N, 1)

    def forward(self, x, member=None):
        if member is not None:
            return self._member(member, x)
        stacked = torch.stack([self._member(k, x) for k in range(self.members)])  # (E, N, 1)
        return stacked if self.training else stacked.mean(0)

    def get_config(self) -> dict:
        return {"members": self.members, "input_size": self.input_size, "hidden_size": self.hidden_size}

    @classmethod
    def from_config(cls, config: dict) -> "Ensemble":
        return cls(**config)


def mean_mse(prediction, y):
    """Mean over every member and sample: broadcasts over the ensemble axis in training."""
    return ((prediction - y) ** 2).mean()


def data(n=24, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, 2, generator=g, dtype=dtype)
    return TensorDataset(x, x[:, :, :1].mean(1))  # y: the mean of the first feature


def train(config, *, dtype=torch.float64, run_dir=None, callbacks=(), resume=False, members=3):
    seed_everything(0)
    model = Ensemble(members).to(dtype)
    trainer = Trainer(model, mean_mse, config, run_dir=run_dir, callbacks=callbacks)
    trainer.fit(data(dtype=dtype), data(16, dtype=dtype, seed=1), resume=resume)
    return trainer


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_members_one_by_one_give_the_updates_of_the_whole_ensemble_bit_for_bit(dtype):
    """Slot k of the stack gets the gradient the whole stack's loss gives it: 3 epochs of 3 batches with
    Adam and clipping end on the same bits, with the same logged losses."""
    base = dict(epochs=3, batch_size=8, optimizer="adamw", lr=1e-2, weight_decay=1e-3, clip_grad_norm=0.05,
                progress=False)
    whole = train(TrainConfig(**base), dtype=dtype)
    by_member = train(TrainConfig(**base, backward_by_member=True), dtype=dtype)
    assert_same_weights(weights(by_member.model), weights(whole.model))
    assert [r["loss"] for r in by_member.step_log] == [r["loss"] for r in whole.step_log]
    assert [r["grad_norm"] for r in by_member.step_log] == [r["grad_norm"] for r in whole.step_log]
    assert max(r["grad_norm"] for r in whole.step_log) > 0.05  # some steps were clipped
    assert [r["val_loss"] for r in by_member.history] == [r["val_loss"] for r in whole.history]


def test_members_one_by_one_run_forward_and_backward_in_turn():
    """What saves the memory: member k's backward runs before member k + 1's forward."""
    config = dict(epochs=1, batch_size=24, progress=False)
    whole = train(TrainConfig(**config))
    assert whole.model.calls[:6] == [("forward", 0), ("forward", 1), ("forward", 2),
                                     ("backward", 2), ("backward", 1), ("backward", 0)]
    by_member = train(TrainConfig(**config, backward_by_member=True))
    assert by_member.model.calls[:6] == [("forward", 0), ("backward", 0), ("forward", 1), ("backward", 1),
                                         ("forward", 2), ("backward", 2)]


def test_members_one_by_one_need_a_member_count():
    trainer = Trainer(nn.Linear(2, 1), mean_mse, TrainConfig(epochs=1, backward_by_member=True, progress=False))
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="backward_by_member=True needs a model of independent members"):
        trainer.fit(TensorDataset(x, x[:, :1]))


class Pairs(torch.utils.data.Dataset):
    """((x, z), y) samples; with ``batch_indexing`` a list of indices gives the batch."""

    def __init__(self, tensors: TensorDataset, batch_indexing: bool):
        self.tensors, self.batch_indexing = tensors, batch_indexing

    def __len__(self):
        return len(self.tensors)

    def __getitem__(self, i):
        x, z, y = self.tensors[i]
        return (x, z), y


@pytest.mark.parametrize("shuffle, drop_last", [(True, False), (False, False), (True, True)])
def test_a_batch_indexing_dataset_gives_the_batches_of_the_per_sample_loader(shuffle, drop_last):
    g = torch.Generator().manual_seed(0)
    tensors = TensorDataset(torch.randn(101, 5, 1, generator=g), torch.randn(101, 3, generator=g),
                            torch.randn(101, 3, generator=g))
    gathered, per_sample = (make_loader(Pairs(tensors, flag), batch_size=32, shuffle=shuffle, seed=3,
                                        drop_last=drop_last) for flag in (True, False))
    assert len(gathered) == len(per_sample) == (3 if drop_last else 4)
    for epoch in (1, 2):  # the Trainer reshuffles through loader.sampler.set_epoch
        gathered.sampler.set_epoch(epoch)
        per_sample.sampler.set_epoch(epoch)
        for a, b in zip(gathered, per_sample, strict=True):
            assert type(a) is type(b) and type(a[0]) is type(b[0])  # the collate's lists
            for got, expected in ((a[0][0], b[0][0]), (a[0][1], b[0][1]), (a[1], b[1])):
                assert torch.equal(got, expected)


@pytest.mark.parametrize("scale", [1e-3, 0.999, 1.0, 1.001, 50.0])
def test_clip_gradients_is_torch_clip_bit_for_bit(scale):
    """Skipping the product when the factor clamps to 1 changes no bit, below, at and above max_norm."""
    g = torch.Generator().manual_seed(0)
    grads = [torch.randn(7, 3, generator=g), torch.randn(5, generator=g)]
    norm = torch.linalg.vector_norm(torch.cat([t.flatten() for t in grads]))
    grads = [t * scale / norm for t in grads]  # global norm ~ scale
    ours, reference = ([nn.Parameter(torch.zeros_like(t)) for t in grads] for _ in range(2))
    for a, b, grad in zip(ours, reference, grads):
        a.grad, b.grad = grad.clone(), grad.clone()
    returned = clip_gradients(ours, max_norm=1.0)
    expected = torch.nn.utils.clip_grad_norm_(reference, max_norm=1.0)
    assert returned == float(expected)
    for a, b in zip(ours, reference):
        assert torch.equal(a.grad, b.grad)


@pytest.mark.parametrize("name, torch_class", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_adam_runs_foreach_with_the_bits_of_torchs_default(name, torch_class):
    """make_optimizer's Adam takes torch's foreach path, which must end on the bits of torch's CPU default
    (a Python loop over the parameters), given the same gradients."""
    seed_everything(0)
    ours, reference = Ensemble().float(), Ensemble().float()
    reference.load_state_dict(ours.state_dict())
    ours_opt = make_optimizer(name, ours.parameters(), lr=1e-2, weight_decay=1e-2)
    reference_opt = torch_class(reference.parameters(), lr=1e-2, weight_decay=1e-2)  # foreach=None
    assert ours_opt.defaults["foreach"] is True and reference_opt.defaults["foreach"] is None
    x, y = data(dtype=torch.float32).tensors
    initial = weights(ours)
    for _ in range(5):
        for model, optimizer in ((ours, ours_opt), (reference, reference_opt)):
            optimizer.zero_grad()
            mean_mse(model(x), y).backward()
            optimizer.step()
    assert_same_weights(weights(ours), weights(reference))
    assert not torch.equal(weights(ours)["heads.0.bias"], initial["heads.0.bias"])  # the steps did move them


def test_resume_through_every_fast_path_is_bit_identical(tmp_path):
    config = TrainConfig(epochs=4, batch_size=8, optimizer="adamw", lr=1e-2, patience=10, backward_by_member=True,
                         progress=False)
    reference = train(config, dtype=torch.float32, run_dir=tmp_path / "reference")
    with pytest.raises(Crash):  # 3 batches per epoch: step 8 is in epoch 3, after the checkpoint of epoch 2
        train(config, dtype=torch.float32, run_dir=tmp_path / "crashed", callbacks=[CrashAtStep(8)])
    assert load_trainer_state(tmp_path / "crashed" / "trainer_state.pt")["epoch"] == 2
    torch.manual_seed(1234)  # whatever the RNG holds now must not matter
    resumed = train(config, dtype=torch.float32, run_dir=tmp_path / "crashed", resume=True)
    assert_same_weights(weights(resumed.model), weights(reference.model))
    assert [r["loss"] for r in resumed.step_log] == [r["loss"] for r in reference.step_log]
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in reference.history]
