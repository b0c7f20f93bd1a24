"""Speed reference: the Keras CIFAR-10 DCGAN tutorial as written there, on the Keras 3 API (``learning_rate=``).

Needs tensorflow-cpu (a separate environment: ``make bench`` makes .bench-venv). Under Keras 3 the tutorial's freezing
trick (``d_model.trainable = False`` before compiling the combined model) also freezes the standalone D, so its
``train_on_batch`` updates nothing: this times a recipe that does less work than a correct one (see
keras_dcgan_fixed.py). The layers are checked against the tutorial's table by tests/test_bench_refs.py.
One iteration: D.train_on_batch on 64 real, G.predict 64, D.train_on_batch on 64 fake, gan.train_on_batch on 128.
Usage: python benchmarks/refs/keras_dcgan_ref.py [iterations]
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import Sequential, layers  # noqa: E402
from keras.optimizers import Adam  # noqa: E402

LATENT, N_BATCH, HALF = 100, 128, 64


def define_discriminator(in_shape=(32, 32, 3)):
    model = Sequential([
        keras.Input(in_shape),
        layers.Conv2D(64, (3, 3), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(256, (3, 3), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Flatten(), layers.Dropout(0.4), layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=0.0002, beta_1=0.5), metrics=["accuracy"])
    return model


def define_generator(latent_dim=LATENT):
    return Sequential([
        keras.Input((latent_dim,)),
        layers.Dense(256 * 4 * 4), layers.LeakyReLU(0.2), layers.Reshape((4, 4, 256)),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(3, (3, 3), activation="tanh", padding="same"),
    ])


def define_gan(g_model, d_model):
    d_model.trainable = False  # as the seed; under Keras 3 this freezes d_model everywhere
    model = Sequential([g_model, d_model])
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=0.0002, beta_1=0.5))
    return model


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    d, g = define_discriminator(), define_generator()
    gan = define_gan(g, d)
    data = np.random.uniform(-1, 1, (5000, 32, 32, 3)).astype("float32")

    def iteration():
        d.train_on_batch(data[np.random.randint(0, len(data), HALF)], np.ones((HALF, 1)))
        d.train_on_batch(g.predict(np.random.randn(HALF, LATENT), verbose=0), np.zeros((HALF, 1)))
        gan.train_on_batch(np.random.randn(N_BATCH, LATENT), np.ones((N_BATCH, 1)))

    for _ in range(3):  # warm-up and tracing
        iteration()
    t = time.perf_counter()
    for _ in range(iters):
        iteration()
    dt = time.perf_counter() - t
    print(f"keras-seed-dcgan iters={iters} sec={dt:.2f} img_per_s={iters * N_BATCH / dt:.1f}")


if __name__ == "__main__":
    main()
