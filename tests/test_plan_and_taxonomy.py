from __future__ import annotations

from geo.layers import Layers
from geo.plan import PlanText, cited_ranges
from geo.seed import DATA_DIR
from geo.taxonomy import Taxonomy

PLAN = PlanText(DATA_DIR / "sources" / "plan.txt")


def test_cited_ranges() -> None:
    assert cited_ranges("专栏 9, lines 1463-1498") == [(1463, 1498)]
    assert cited_ranges("专栏 10, line 1706; 专栏 11, line 1947") == [(1706, 1706), (1947, 1947)]
    assert cited_ranges("no lines here") == []


def test_quotes_across_line_breaks_and_interleaved_cells() -> None:
    assert PLAN.quotes("电子信息、智能电器、高端汽配、新材料产业集群", "lines 1487-1497")
    # the 北仑 row is split by a page break: 高端装备 (line 1631) … 集群 (line 1640)
    assert PLAN.quotes("高端装备集群", "lines 1631-1640")
    assert not PLAN.quotes("高端装备集群", "lines 1631-1640", max_pieces=1)
    assert not PLAN.quotes("生物医药产业集群", "lines 1487-1497")
    assert not PLAN.quotes("鄞州分园", "lines 9999-10000")


def test_numbers_on_cited_lines() -> None:
    assert 128.7 in PLAN.numbers("lines 1485-1485")
    assert 130 in PLAN.numbers("line 1631")


def test_narrower_terms(layers: Layers) -> None:
    narrower = layers.taxonomy.narrower("new-materials")
    assert {"new-materials", "membrane-materials", "new-energy-materials", "chemical-new-materials"} <= narrower
    assert "biomedicine" not in narrower
    assert layers.taxonomy.problems() == []


def test_taxonomy_problems_are_reported() -> None:
    tax = Taxonomy.from_json({
        "groups": [],
        "industries": [{"code": "a", "zh": "甲", "en": "A", "broader": "b", "groups": ["nope"]},
                       {"code": "b", "zh": "乙", "en": "B", "broader": "a", "groups": []}],
    })
    problems = " ".join(tax.problems())
    assert "cycle" in problems and "nope" in problems


def test_every_industry_word_is_in_the_plan(layers: Layers) -> None:
    text = PLAN.text(1, len(PLAN.lines))
    missing = [i.code for i in layers.taxonomy.industries.values() if i.zh.replace(" ", "") not in text]
    assert missing == []


def test_progress_from_baseline_to_target() -> None:
    from geo.monitoring import progress

    base = {"year": 2020, "value": 40.0}
    seen = [{"year": 2020, "value": 40.0}, {"year": 2023, "value": 55.0}]
    got = progress(60.0, ">", base, seen)
    assert got["share_of_way"] == 0.75 and got["met"] is False and got["status"] == "observed"
    assert progress(55.0, ">", base, seen)["met"] is False  # 超过 55: 55 is not more than 55
    assert progress(55.0, ">=", base, seen)["met"] is True
    assert progress(60.0, None, base, seen[:1])["status"].startswith("baseline only")
    assert progress(None, None, base, seen)["status"] == "target is not a number"
    assert progress(60.0, None, None, [])["status"] == "no observation"
