from __future__ import annotations

import pytest

from geo.layers import Layers
from geo.queries import hosting_industry, summarise


def test_biomedicine_is_found_in_ninghai_and_qianwan(layers: Layers) -> None:
    hosts = hosting_industry(layers, "biomedicine")
    ids = set(hosts["id"])
    assert {"subpark-ninghai", "qianwan-east-manufacturing"} <= ids
    assert all("biomedicine" in m or "marine-biomedicine" in m for m in hosts["matched"])


def test_new_materials_includes_narrower_terms(layers: Layers) -> None:
    ids = set(hosting_industry(layers, "new-materials")["id"])
    assert "subpark-jiangbei" in ids  # 膜材料 (membrane materials) is a narrower term
    assert "subpark-haishu" in ids  # 新能源材料
    assert "subpark-ninghai" not in ids


def test_summary_adds_planned_and_computed_areas(layers: Layers) -> None:
    hosts = hosting_industry(layers, "membrane-materials")
    summary = summarise(layers, hosts, "membrane-materials")
    # 江北分园 is the only sub-park; the provincial parks have no planned figure
    assert summary.planned_area_km2 == pytest.approx(33)
    assert summary.computed_area_km2 > 33
    assert summary.district_counts["330205"] >= 2


def test_unknown_code(layers: Layers) -> None:
    with pytest.raises(KeyError):
        hosting_industry(layers, "no-such-industry")
