"""Monitoring: the plan's indicators beside what was observed, year by year, and progress toward 2025.

Observations live in data/observations.json for now, one record per indicator, year and source (the
store and its editing API will hold them later; the record stays the same). Nothing is estimated: an
indicator without an observation after its baseline has no progress, and says so.
"""

from __future__ import annotations

from typing import Any

GREATER = {">=", ">"}  # comparators of a floor the indicator must reach


def indicator_ids(indicators: dict[str, Any]) -> set[str]:
    return {r["id"] for r in indicators.get("table1", [])} | {t["id"] for t in indicators.get("targets", [])}


def by_indicator(observations: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """Each indicator's observations, oldest first."""
    out: dict[str, list[dict[str, Any]]] = {}
    for obs in (observations or {}).get("observations", []):
        out.setdefault(obs["indicator"], []).append(obs)
    return {k: sorted(v, key=lambda o: o["year"]) for k, v in out.items()}


def progress(target: float | None, comparator: str | None, baseline: dict[str, Any] | None,
             observed: list[dict[str, Any]]) -> dict[str, Any]:
    """Where an indicator stands: its latest observation, the share of the way from baseline to target
    ((latest - baseline) / (target - baseline)), and whether the target is met; None where unknown."""
    latest = observed[-1] if observed else None
    out: dict[str, Any] = {"latest": latest, "share_of_way": None, "met": None}
    if latest is None or target is None:
        out["status"] = "no observation" if latest is None else "target is not a number"
        return out
    value = latest["value"]
    out["met"] = bool(value > target if comparator == ">" else value >= target)
    if baseline is None or baseline.get("value") is None:
        out["status"] = "no baseline in the plan"
    elif latest["year"] <= baseline["year"]:
        out["status"] = "baseline only: no observation since"
    elif target == baseline["value"]:
        out["status"] = "target equals baseline"
    else:
        out["share_of_way"] = round((value - baseline["value"]) / (target - baseline["value"]), 4)
        out["status"] = "observed"
    return out


def annotate(indicators: dict[str, Any], observations: dict[str, Any] | None) -> dict[str, Any]:
    """indicators.json with each 表 1 row and target given its `observations` and `progress`."""
    seen = by_indicator(observations)
    doc = dict(indicators)
    rows = []
    for r in indicators.get("table1", []):
        obs = seen.get(r["id"], [])
        target = r.get("target_2025") or {}
        rows.append({**r, "observations": obs,
                     "progress": progress(target.get("value"), target.get("comparator"), r.get("baseline"), obs)})
    doc["table1"] = rows
    doc["targets"] = [{**t, "observations": seen.get(t["id"], []),
                       "progress": progress(t.get("value"), t.get("comparator"), None, seen.get(t["id"], []))}
                      for t in indicators.get("targets", [])]
    doc["monitoring"] = (
        "observations: (year, value, source, note) as published; progress: the latest observation, the share of "
        "the way from the 2020 (or *2019) baseline to the 2025 target, and whether the target is met. Only "
        "observations with a citable source are kept: so far the plan's own figures for 2015-2020, so no "
        "indicator shows progress past its baseline yet.")
    return doc
