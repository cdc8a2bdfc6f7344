"""Baselines and reference solvers: FISTA, SGD dictionary learning, scikit-learn, VAE, bicubic."""
