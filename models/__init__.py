"""odecast's models: ODE solvers, the latent ODE, training, inference and the checkpoint store."""
