"""The report's studies, one module each.  Every study has

``compute(ctx) -> pandas.DataFrame``
    every number the study reports (its text, tables and figures are derived from it), so
    the numbers are tested without drawing;
``render(doc, ctx, df)``
    the section: text, tables, figures, the title page's key result and the CSV files.

:data:`STUDIES` maps a recipe's study name to its title and module, in report order.
"""

from __future__ import annotations

from types import ModuleType

from . import (
    accumulators,
    accuracy_vs_cost,
    atlas,
    baselines,
    block_formats,
    design,
    energy,
    fp8_vs_int8,
    hardware,
    range_setting,
    real_network,
)

#: study name → (title, module with compute() and render())
STUDIES: dict[str, tuple[str, ModuleType]] = {
    "atlas": ("Format atlas", atlas),
    "fp8_vs_int8": ("FP8 versus INT8", fp8_vs_int8),
    "block_formats": ("Block formats", block_formats),
    "baselines": ("Outlier mitigations", baselines),
    "design": ("Format-design sensitivities", design),
    "range_setting": ("Range setting", range_setting),
    "hardware": ("Hardware cost", hardware),
    "energy": ("Energy", energy),
    "accuracy_vs_cost": ("Accuracy versus cost", accuracy_vs_cost),
    "accumulators": ("Accumulators", accumulators),
    "real_network": ("Real network", real_network),
}
