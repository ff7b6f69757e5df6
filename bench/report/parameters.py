"""The report's table of trained parameters (foundation-model methods record them in result.json `parameters`)."""

from __future__ import annotations

from bench.report.tables import Entry, Table, setting_label


def _millions(n: int) -> str:
    return f"{n / 1e6:.3f}M" if n >= 1000 else str(n)


def parameters_table(cells: dict) -> Table | None:
    """One row per (setting, method) whose runs recorded their parameters; None when no run did."""
    rows = []
    for (setting, label), cell in sorted(cells.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        counts = next((r.result.get("parameters") for r in cell.runs if r.result and r.result.get("parameters")),
                      None)
        if not counts:
            continue
        share = 100.0 * counts["trained_fraction"]
        rows.append((f"{label} on {setting_label(setting)}", [
            Entry(_millions(counts["trained"]), counts["trained"]), Entry(_millions(counts["total"]), counts["total"]),
            Entry(f"{share:.3f}%", share), Entry(_millions(counts["tuning_modules"]), counts["tuning_modules"]),
            Entry(_millions(counts["classifier"]), counts["classifier"])]))
    if not rows:
        return None
    return Table("parameters", "Trained parameters of the image model (the text tower is not part of it): all, "
                 "the model's total, their share, the tuning modules (PEFT) and the classifier",
                 ["run", "trained", "total", "share", "tuning modules", "classifier"], rows, higher_is_better=False)
