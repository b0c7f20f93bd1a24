"""Training: the Trainer loop, checkpoints, run directories, logging."""
