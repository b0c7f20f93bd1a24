"""Speed reference: the Keras CIFAR-10 DCGAN tutorial's nets trained correctly in Keras 3, as Keras' own DCGAN
guide does it (a ``keras.Model`` whose ``train_step`` uses ``tf.GradientTape``), so D really learns.
Needs tensorflow-cpu.

One iteration: D on 64 real + 64 fake (one step), then G on 128 latents. D ends in a logit (the sigmoid is in the
loss). The layers are checked against the tutorial's table by tests/test_bench_refs.py.
Usage: python benchmarks/refs/keras_dcgan_fixed.py [iterations]
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import Sequential, layers  # noqa: E402

LATENT, N_BATCH, HALF = 100, 128, 64


def define_discriminator(in_shape=(32, 32, 3)):
    return Sequential([
        keras.Input(in_shape),
        layers.Conv2D(64, (3, 3), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(256, (3, 3), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Flatten(), layers.Dropout(0.4), layers.Dense(1),
    ])


def define_generator(latent_dim=LATENT):
    return Sequential([
        keras.Input((latent_dim,)),
        layers.Dense(256 * 4 * 4), layers.LeakyReLU(0.2), layers.Reshape((4, 4, 256)),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"), layers.LeakyReLU(0.2),
        layers.Conv2D(3, (3, 3), activation="tanh", padding="same"),
    ])


class GAN(keras.Model):
    def __init__(self):
        super().__init__()
        self.d, self.g = define_discriminator(), define_generator()
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def compile(self):
        super().compile()
        self.d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5)

    def train_step(self, real):
        fake = self.g(tf.random.normal((HALF, LATENT)), training=False)
        x = tf.concat([real[:HALF], fake], 0)
        y = tf.concat([tf.ones((HALF, 1)), tf.zeros((HALF, 1))], 0)
        with tf.GradientTape() as tape:
            d_loss = self.bce(y, self.d(x, training=True))
        self.d_opt.apply_gradients(zip(tape.gradient(d_loss, self.d.trainable_weights), self.d.trainable_weights))
        with tf.GradientTape() as tape:
            out = self.d(self.g(tf.random.normal((N_BATCH, LATENT)), training=True), training=True)
            g_loss = self.bce(tf.ones((N_BATCH, 1)), out)
        self.g_opt.apply_gradients(zip(tape.gradient(g_loss, self.g.trainable_weights), self.g.trainable_weights))
        return {"d": d_loss, "g": g_loss}


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    gan = GAN()
    gan.compile()
    data = np.random.uniform(-1, 1, ((iters + 3) * N_BATCH, 32, 32, 3)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(data).batch(N_BATCH, drop_remainder=True)
    gan.fit(ds.take(3), epochs=1, verbose=0)  # tracing and warm-up
    t = time.perf_counter()
    gan.fit(ds.skip(3).take(iters), epochs=1, verbose=0)
    dt = time.perf_counter() - t
    print(f"keras-fixed-dcgan iters={iters} sec={dt:.2f} img_per_s={iters * N_BATCH / dt:.1f}")


if __name__ == "__main__":
    main()
