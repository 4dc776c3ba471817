"""The benchmark's real-branch diagnostic (issue 18): does the real branch push towards the truth?

At each validation step of a Noise-DA run, ``RealCosineProbe.measure`` scores the update
the diffusion loss gives the restorer through its real outputs alone against the update
of the true error ``‖G(x_r) − clean_r‖²`` on the same real photos
(``noiseda_core.diagnostics.real_branch_cosine``). The benchmark knows the truth: each
image of its ``real`` folder is a clean source photo degraded once (same name, same size).
The probe batch is fixed (crops, synthetic pairs and the diffusion draws are seeded), so
the cosines of one run compare across steps.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from noiseda_core.config import Config
from noiseda_core.data import TrainData
from noiseda_core.diagnostics import real_branch_cosine
from noiseda_core.imageio import read_image_array, scan_images, to_float
from noiseda_core.objective import JointObjective, unwrap

PROBE_SEED = 9_000_001  # the probe's own crops and draws, apart from any training seed


def real_truth_pairs(real: Path, clean_folders: list[Path]) -> list[tuple[Path, Path]]:
    """(real photo, its clean source) by file stem; real photos without a source are left out."""
    sources = {p.stem: p for folder in clean_folders for p in scan_images(folder).images}
    return [(p, sources[p.stem]) for p in scan_images(real).images if p.stem in sources]


def fixed_crops(
    pairs: list[tuple[Path, Path]], count: int, patch: int, seed: int = PROBE_SEED
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` aligned (noisy, clean) crops ``(count, 3, patch, patch)``, seeded."""
    rng = np.random.default_rng(seed)
    noisy, clean = [], []
    for i in range(count):
        x, y = (read_image_array(p) for p in pairs[i % len(pairs)])
        if x.shape != y.shape:
            raise ValueError(f"{pairs[i % len(pairs)]}: the real photo and its source differ")
        top = int(rng.integers(x.shape[0] - patch + 1))
        left = int(rng.integers(x.shape[1] - patch + 1))
        for stack, a in ((noisy, x), (clean, y)):
            stack.append(to_float(a[top : top + patch, left : left + patch]))
    as_tensor = lambda s: torch.from_numpy(np.stack(s).transpose(0, 3, 1, 2).copy())  # noqa: E731
    return as_tensor(noisy), as_tensor(clean)


class RealCosineProbe:
    """The real branch's cosine with the truth, on one fixed batch of a run's photos.

    The batch is made on the first ``measure`` from the run's resolved config (a ``fit``
    degradation is known only once the run is set up).
    """

    def __init__(self, clean_folders: list[Path], draws: int = 4) -> None:
        self.clean_folders, self.draws = clean_folders, draws
        self.batch: tuple[tuple[torch.Tensor, torch.Tensor], ...] = ()  # synthetic, real

    def _make_batch(self, cfg: Config) -> None:
        t = cfg.train
        pairs = real_truth_pairs(Path(cfg.data.real), self.clean_folders)
        if not pairs:
            raise ValueError(f"no photo of {cfg.data.real} has its clean source here")
        data = TrainData(replace(cfg.data, workers=0), t.patch, seed=PROBE_SEED)
        first = next(data.batches(t.batch))
        assert first.x_s is not None  # a CPU batch: the synthetic input is made
        self.batch = (first.x_s, first.y_s), fixed_crops(pairs, t.batch, t.patch)

    def measure(self, cfg: Config, objective: torch.nn.Module, device: torch.device) -> float:
        """The cosine for the objective's current restorer (> 0: towards the truth)."""
        if not self.batch:
            self._make_batch(cfg)
        (x_s, y_s), (x_r, clean_r) = self.batch
        synthetic, real = (x_s.to(device), y_s.to(device)), (x_r.to(device), clean_r.to(device))
        generator = torch.Generator(device=device).manual_seed(PROBE_SEED)
        model = unwrap(objective)
        assert isinstance(model, JointObjective)
        return real_branch_cosine(model, synthetic, real, generator, self.draws)
