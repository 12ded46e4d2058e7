"""numba kernels behind the array paths of the formats (split into modules next)."""

from .scalar import *  # noqa: F403
