"""The latent ODE: an RNN encoder reads a series backwards, an ODE decodes it at any time."""
