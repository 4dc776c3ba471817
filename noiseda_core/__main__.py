"""``python -m noiseda_core`` is the ``noiseda`` command (also under ``torchrun``)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
