"""Noise-DA Studio's library: data, networks, the Noise-DA loss, training, inference.

Importing this package is cheap (no torch, never Qt); submodules load torch.
"""

__version__ = "0.1.0"
