"""Distributions that misbehave inside sweep's worker processes (importable by workers)."""

from __future__ import annotations

import multiprocessing
import os

from lowbit.analysis import Gaussian


class DiesInWorker(Gaussian):
    """A Gaussian whose sampling kills the process it runs in, when that is a worker (as a
    segfault or the OOM killer would); in the main process it samples normally."""

    name = "dies_in_worker"

    def _sample(self, n, rng):
        if multiprocessing.parent_process() is not None:
            os._exit(3)
        return super()._sample(n, rng)
