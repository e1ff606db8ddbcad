"""Run once with real Keras to write keras_lstm_gru.npz (done with Keras 3.15.1 on its torch backend:
``KERAS_BACKEND=torch python tests/nn/data/make_keras_fixture.py`` from the repository root)."""
import numpy as np
import keras

F, H, T, N = 3, 4, 5, 2
rng = np.random.default_rng(0)
x = rng.normal(size=(N, T, F)).astype(np.float32)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input(shape=(T, F)),
                          keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=True)),
                          keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=True))])
layers = [l for l in model.layers if isinstance(l, keras.layers.Bidirectional)]
for layer in layers:
    layer.set_weights([a + rng.normal(0, 0.3, a.shape).astype(a.dtype) for a in layer.get_weights()])
gru_model = keras.Sequential([keras.Input(shape=(T, F)), keras.layers.GRU(H, return_sequences=True)])
gru = gru_model.layers[-1]
gru.set_weights([a + rng.normal(0, 0.3, a.shape).astype(a.dtype) for a in gru.get_weights()])
arrays = {"x": x, "lstm_output": model.predict(x, verbose=0), "gru_output": gru_model.predict(x, verbose=0),
          "keras_version": np.array(keras.__version__)}
for k, layer in enumerate(layers):
    for j, a in enumerate(layer.get_weights()):
        arrays[f"lstm_layer{k}_{j}"] = a
for j, a in enumerate(gru.get_weights()):
    arrays[f"gru_layer0_{j}"] = a
np.savez("tests/nn/data/keras_lstm_gru.npz", **arrays)
print({k: v.shape for k, v in arrays.items()})
