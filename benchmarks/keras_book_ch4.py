"""Cross-check of gankit's `dcgan -p book`: the book's ch.4 DCGAN written in Keras 3 with the Keras 2 semantics
the book relies on (D's fakes from ``predict``, i.e. batch norm in inference mode; one D step on a real batch with
targets in (0.8, 1], one on a fake batch with targets in [0, 0.2); then G through D with hard 1s; SGD Nesterov).
It saves the samples of 16 fixed latents every 25 steps, so its course can be set beside gankit's.

Run with the benchmark venv (`make bench` creates it with tensorflow-cpu and keras):
    .venv/bin/python -c "import numpy as np; from gankit.data import sources; \
        np.save('tw32.npy', sources.load_twemoji(32, 'white', False)[0].permute(0, 2, 3, 1).numpy())"
    .bench-venv/bin/python benchmarks/keras_book_ch4.py tw32.npy 150 OUT [LR MOMENTUM]
    .venv/bin/python benchmarks/figures/book_crosscheck.py strip.png 0,25,50 "Keras=OUT" "gankit=RUN"   # side by side
"""

import os
import sys

import numpy as np

B, Z = 128, 100


def train(data_npy: str, steps: int, out: str, lr: float = 5e-4, momentum: float = 0.9) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    from keras import Sequential, layers

    data = np.load(data_npy).astype("float32") / 127.5 - 1
    s = data.shape[1] // 8
    keras.utils.set_random_seed(0)
    G = Sequential(
        [
            keras.Input((Z,)),
            layers.Dense(2048),
            layers.ReLU(),
            layers.Dense(256 * s * s),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Reshape((s, s, 256)),
            layers.UpSampling2D(),
            layers.Conv2D(128, 5, padding="same"),
            layers.ReLU(),
            layers.UpSampling2D(),
            layers.Conv2D(64, 5, padding="same"),
            layers.ReLU(),
            layers.UpSampling2D(),
            layers.Conv2D(3, 5, padding="same"),
            layers.Activation("tanh"),
        ]
    )
    D = Sequential(
        [
            keras.Input(data.shape[1:]),
            layers.Conv2D(128, 5, padding="same"),
            layers.LeakyReLU(0.2),
            layers.MaxPooling2D(),
            layers.Conv2D(256, 3),
            layers.LeakyReLU(0.2),
            layers.MaxPooling2D(),
            layers.Conv2D(512, 3),
            layers.LeakyReLU(0.2),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(1024),
            layers.LeakyReLU(0.2),
            layers.Dense(1),
            layers.Activation("sigmoid"),
        ]
    )
    opt_d = keras.optimizers.SGD(lr, momentum=momentum, nesterov=True)
    opt_g = keras.optimizers.SGD(lr, momentum=momentum, nesterov=True)
    bce = keras.losses.BinaryCrossentropy()

    @tf.function
    def d_step(x, y):
        with tf.GradientTape() as t:
            loss = bce(y, D(x, training=True))
        opt_d.apply_gradients(zip(t.gradient(loss, D.trainable_weights), D.trainable_weights))
        return loss

    @tf.function
    def g_step(z):  # the adversarial model with D frozen: only G's weights move
        with tf.GradientTape() as t:
            loss = bce(tf.ones((B, 1)), D(G(z, training=True), training=True))
        opt_g.apply_gradients(zip(t.gradient(loss, G.trainable_weights), G.trainable_weights))
        return loss

    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    noise = lambda n: rng.normal(0, 1, (n, Z)).astype("float32")
    fixed, perm, pos = noise(16), rng.permutation(len(data)), 0
    for step in range(steps + 1):
        if step % 25 == 0 or step == steps:
            np.save(f"{out}/step-{step:05d}.npy", G(fixed, training=False).numpy())
        if step == steps:
            break
        if pos + B > len(data):
            perm, pos = rng.permutation(len(data)), 0
        real = data[perm[pos : pos + B]]
        pos += B
        fake = G(noise(B), training=False).numpy()  # predict_on_batch
        y_real = (1 - rng.random((B, 1)) * 0.2).astype("float32")
        y_fake = (rng.random((B, 1)) * 0.2).astype("float32")
        d_loss = (float(d_step(real, y_real)) + float(d_step(fake, y_fake))) / 2
        g_loss = float(g_step(noise(B)))
        if step % 10 == 0:
            print(f"step {step} d_loss {d_loss:.3f} g_loss {g_loss:.3f} fake_mean {fake.mean():.3f}", flush=True)


if __name__ == "__main__":
    train(sys.argv[1], int(sys.argv[2]), sys.argv[3], *map(float, sys.argv[4:6]))
