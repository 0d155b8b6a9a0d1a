"""Sphinx extension of the book: the chapters' compute budgets as MyST substitutions.

The budgets live in one table, ``quinelib.budgets.BUDGETS`` (in reference
units, see that module).  This extension turns it into substitutions that any
page can use, so the workshop plan quotes the same numbers as the chapters'
budget boxes and ``make bench``:

* ``{{ budget_ch3 }}`` -> "250 reference units (150 s on the reference machine)";
* ``{{ budget_ch3_s }}`` -> "150" (seconds on the reference machine);
* ``{{ budget_ch3_smoke }}``, ``{{ budget_ch3_workshop }}`` (and ``_workshop_s``, in seconds),
  ``{{ t_ref }}`` and ``{{ reference_machine }}``;
* ``{{ budget_total_s }}`` -> the chapters' default budgets summed, in seconds.
"""

from __future__ import annotations


def budget_substitutions() -> dict[str, str]:
    from quinelib.budgets import BUDGETS, REFERENCE, budget_seconds

    subs = {"t_ref": f"{REFERENCE['seconds']:.2f} s", "reference_machine": REFERENCE["machine"]}
    for chapter, b in BUDGETS.items():
        seconds = budget_seconds(chapter)
        subs[f"budget_ch{chapter}"] = f"{b.default:g} reference units ({seconds:.0f} s on the reference machine)"
        subs[f"budget_ch{chapter}_s"] = f"{seconds:.0f}"
        subs[f"budget_ch{chapter}_min"] = f"{seconds / 60:.1f}"
        subs[f"budget_ch{chapter}_smoke"] = (f"{b.smoke:g} reference units "
                                             f"({budget_seconds(chapter, smoke=True):.0f} s)")
        workshop = budget_seconds(chapter, workshop=True)
        subs[f"budget_ch{chapter}_workshop"] = f"{b.workshop:g} reference units ({workshop:.0f} s)"
        subs[f"budget_ch{chapter}_workshop_s"] = f"{workshop:.0f}"
    subs["budget_total_s"] = f"{sum(budget_seconds(c) for c in BUDGETS):.0f}"
    subs["budget_total_min"] = f"{sum(budget_seconds(c) for c in BUDGETS) / 60:.0f}"
    return subs


def _add_substitutions(app, config):
    merged = dict(budget_substitutions())
    merged.update(config.myst_substitutions or {})  # a page's or _config.yml's own values win
    config.myst_substitutions = merged


def setup(app):
    app.connect("config-inited", _add_substitutions)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
