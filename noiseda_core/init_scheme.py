"""Weight initialisation schemes of the two networks (``model.init_scheme``).

- ``"kaiming"`` (the authors' release): Kaiming-normal (fan-in, ReLU gain) on the weight
  of every convolution and linear layer of both networks, biases zero. It overrides the
  zero-initialised output layers, so an untrained denoiser does not predict ε̂ = 0 and
  an untrained residual restorer adds a random residual.
- ``"ours"``: keep the constructors' choices (zero-initialised denoiser outputs, the
  restorer's last conv shrunk 100×): both networks start as the identity/zero map.

A warm-started restorer (``model.init_restorer``) is loaded after this, so there the
scheme only touches the denoiser.
"""

from __future__ import annotations

from torch import nn

SCHEMES = ("kaiming", "ours")


def apply_init(module: nn.Module, scheme: str) -> nn.Module:
    """Re-initialise ``module`` in place by ``scheme`` (a name or ``InitScheme``); returns it."""
    scheme = getattr(scheme, "value", scheme)
    if scheme == "ours":
        return module
    if scheme != "kaiming":
        raise ValueError(f"unknown init scheme {scheme!r}; use one of {SCHEMES}")
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module
