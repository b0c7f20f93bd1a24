"""gankit: every classic GAN family behind one CLI and API."""

__version__ = "0.1.0"
