"""People's names for config keys in messages.

``human_message`` rewrites a config error ("config key train.lr: ...") with the label
the user sees on the form (the training options' labels and plain-word tooltips are
declared in ``option_specs.py``).
"""

from __future__ import annotations

import re

from .option_specs import OPTIONS

LABELS: dict[str, str] = {  # "section.key" → the form's label
    **{option.key: option.label for option in OPTIONS},
    "data.degradation": "Degradation",
    "data.synthetic": "Synthetic pairs",
    "data.real": "Real images",
    "data.val": "Validation pairs",
    "data.reference": "Clean references",
}

_KEY = re.compile(r"config key ([a-z_]+\.[a-z_]+)")


def human_message(text: str) -> str:
    """``config key train.lr: must be positive`` → ``Learning rate: must be positive``."""

    def name(match: re.Match[str]) -> str:
        key = match.group(1)
        return LABELS.get(key, key.split(".", 1)[1].replace("_", " ").capitalize())

    return _KEY.sub(name, text)
