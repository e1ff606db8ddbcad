"""lstmkit.nn.encoder_decoder.EncoderDecoder: shapes, the bottleneck, decoding order, lengths, config."""
import pytest
import torch

from lstmkit.nn.encoder_decoder import EncoderDecoder


def test_an_autoencoder_by_default_and_its_code_is_the_bottleneck():
    torch.manual_seed(0)
    model = EncoderDecoder(3, hidden_size=8, num_layers=2, code_size=4)
    x = torch.randn(5, 7, 3)
    assert model(x).shape == (5, 7, 3)
    code = model.encode(x)
    assert code.shape == (5, 4) and code.abs().max() < 1  # tanh
    # The decoder sees the input only through the code: same code, same output.
    assert torch.equal(model.decode(code, 7), model(x))


def test_reverse_decodes_back_to_front():
    torch.manual_seed(0)
    forward = EncoderDecoder(2, hidden_size=6, code_size=3, reverse=False)
    backward = EncoderDecoder(2, hidden_size=6, code_size=3, reverse=True)
    backward.load_state_dict(forward.state_dict())
    code = forward.encode(torch.randn(4, 5, 2))
    assert torch.equal(backward.decode(code, 5), forward.decode(code, 5).flip(1))


def test_lengths_take_each_sequences_own_last_step():
    torch.manual_seed(0)
    model = EncoderDecoder(2, hidden_size=6, code_size=3)
    x = torch.randn(2, 6, 2)
    padded = x.clone()
    padded[0, 4:] = 99.0  # padding after length 4 must not matter
    code = model.encode(padded, lengths=[4, 6])
    assert torch.allclose(code[0], model.encode(x[:1, :4])[0], atol=1e-6)
    assert torch.allclose(code[1], model.encode(x[1:])[0], atol=1e-6)


def test_decoder_inputs_and_another_output_size():
    torch.manual_seed(0)
    model = EncoderDecoder(3, hidden_size=8, code_size=4, output_size=5, decoder_input_size=2)
    x, teacher = torch.randn(2, 7, 3), torch.randn(2, 9, 2)
    assert model.decode(model.encode(x), 9, teacher).shape == (2, 9, 5)
    with pytest.raises(ValueError, match="pass inputs="):
        model.decode(model.encode(x), 9)
    rebuilt = EncoderDecoder.from_config(model.get_config())
    assert rebuilt.get_config() == model.get_config()
    assert [(k, v.shape) for k, v in rebuilt.state_dict().items()] == [(k, v.shape) for k, v in model.state_dict().items()]
