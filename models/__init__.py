"""Models: spiking dictionary learning (Lin & Tang 2019), CBAN, baselines."""
