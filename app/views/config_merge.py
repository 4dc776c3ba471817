"""The form edits a loaded config; it does not replace it.

A config file holds keys the form has no widget for (``data.cache_mb``,
``train.compile`` ...) and values a widget cannot show exactly (``camera:2-4``,
a learning rate with more digits than the spin box). ``merge`` keeps the loaded
config as the base and applies only what the user changed since it was loaded.
"""

from __future__ import annotations

from typing import Any

from noiseda_core.config import Config, config_to_dict

Tables = dict[str, dict[str, Any]]


def merge(base: Config | None, form: Tables, at_load: Tables | None) -> Tables:
    """Nested dict for ``config_from_dict``: ``base`` with the form's edits since ``at_load``.

    Without a base (nothing was loaded) the form is the whole truth.
    """
    if base is None or at_load is None:
        return {section: dict(values) for section, values in form.items()}
    out = config_to_dict(base)
    for section, values in form.items():
        before = at_load.get(section, {})
        for key, value in values.items():
            if key not in before or before[key] != value:
                out.setdefault(section, {})[key] = value
    return out
