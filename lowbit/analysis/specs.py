"""The one distribution grammar: ``lowbit sweep --dist``, ``lowbit simulate --dist`` and the
report recipes all name a distribution with :func:`parse_distribution` (docs/analysis.md,
"Distribution specs").

This module imports nothing heavy: the command line reads :data:`DIST_GRAMMAR` for its help
without loading scipy; :mod:`lowbit.analysis.distributions` loads when a spec is parsed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .distributions import Distribution

#: The grammar in one line, for help texts.
DIST_GRAMMAR = "gaussian[:σ] | laplace[:b] | uniform[:a:b] | student_t:ν[:scale]"
#: name → (class in lowbit.analysis.distributions, its parameters in spec order);
#: ``normal`` and ``t`` are aliases.
_SPECS = {
    "gaussian": ("Gaussian", ("σ",)),
    "normal": ("Gaussian", ("σ",)),
    "laplace": ("Laplace", ("b",)),
    "uniform": ("Uniform", ("a", "b")),
    "student_t": ("StudentT", ("ν", "scale")),
    "t": ("StudentT", ("ν", "scale")),
}


def parse_distribution(spec: str) -> Distribution:
    """A distribution from a spec of :data:`DIST_GRAMMAR`: gaussian[:σ], laplace[:b],
    uniform[:a:b], student_t:ν[:scale] (defaults σ = b = scale = 1, uniform on [−1, 1]).

    >>> parse_distribution("student_t:3")
    StudentT(nu=3, scale=1)
    >>> parse_distribution("gaussian:1:2")
    Traceback (most recent call last):
    ...
    ValueError: gaussian takes at most 1 parameter (σ), got 2
    """
    from . import distributions

    name, *args = spec.strip().split(":")
    try:
        values = [float(a) for a in args]
    except ValueError:
        raise ValueError(f"bad distribution {spec!r}: parameters must be numbers") from None
    if name not in _SPECS:
        raise ValueError(f"unknown distribution {name!r}; expected one of {', '.join(_SPECS)}")
    cls, params = _SPECS[name]
    if cls == "StudentT" and not values:
        raise ValueError("student_t needs ν, e.g. student_t:3")
    if len(values) > len(params):
        plural = "s" if len(params) > 1 else ""
        raise ValueError(
            f"{name} takes at most {len(params)} parameter{plural} ({', '.join(params)}), "
            f"got {len(values)}"
        )
    return getattr(distributions, cls)(*values)
