"""What the plan says about each area, and how we draw it.

Facts (names, areas, industries, boundary texts, targets) are quoted from
data/sources/plan.txt by line range, so each one carries its source. Shapes
are our schematic reading of those words: boxes between the named roads,
discs at named places, belts along named rivers and roads. Coordinates are
WGS 84 lon/lat, read off public maps to a few hundred metres; the build
script scales and clips them (see build_parks.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from geo.plan import QUALIFIERS_AFTER, QUALIFIERS_BEFORE, qualifier_words, squeeze

PLAN = Path(__file__).resolve().parent.parent / "data" / "sources" / "plan.txt"
_LINES = PLAN.read_text(encoding="utf-8").split("\n")


def plan(first: int, last: int) -> str:
    """The plan's text on lines first..last, line breaks removed."""
    return "".join(line.strip() for line in _LINES[first - 1 : last])


def after_colon(first: int, last: int) -> str:
    return plan(first, last).split("：", 1)[1]


def src(section: str, first: int, last: int) -> str:
    return f"{section}, lines {first}-{last}"


def box(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    """A block between four bounding roads or rivers: west, south, east, north."""
    return {"box": [w, s, e, n]}


def disc(lon: float, lat: float, radius_km: float) -> dict[str, Any]:
    """A block known only by its place: a disc around it."""
    return {"disc": [lon, lat, radius_km]}


def block(name_zh: str, name_en: str, boundary_zh: str | None, source: str,
          shape: dict[str, Any] | None, method: str, label_zh: str | None = None) -> dict[str, Any]:
    """A block: its name as the plan prints it, and the whole clause that names and bounds it.

    `label_zh` is a fuller name composed by us (生物产业园 + 产业化基地), never shown as the plan's words."""
    return {"name_zh": name_zh, "name_en": name_en, "label_zh": label_zh, "boundary_zh": boundary_zh,
            "source": source, "shape": shape, "method": method}


def figure(text: str, value: float, unit_zh: str) -> str:
    """The figure as the plan prints it, with its qualifiers (近 100 平方公里, 1000 人以上).

    A value stored in base units may be printed in 万 (1 万人 is stored as 10000 人)."""
    printed = [(f"{value:g}", unit_zh)] + ([(f"{value / 10000:g}", "万" + unit_zh)] if value >= 10000 else [])
    before = "|".join(QUALIFIERS_BEFORE)
    after = "|".join(QUALIFIERS_AFTER)
    flat = squeeze(text)
    for number, unit in printed:
        m = re.search(f"(?:{before})?{re.escape(number)}{re.escape(squeeze(unit))}(?:{after})?", flat)
        if m:
            return m.group()
    raise ValueError(f"{value:g} {unit_zh} is not printed in {text[:40]}…")


def target(tid: str, counted_zh: str, counted_en: str, value: float, unit_zh: str,
           unit_en: str, comparator: str | None, source: str) -> dict[str, Any]:
    first, last = (int(n) for n in source.rsplit("lines ", 1)[1].split("-"))
    value_zh = figure(plan(first, last), value, unit_zh)
    return {"id": tid, "year": 2025, "counted_zh": counted_zh, "counted_en": counted_en,
            "value": value, "value_zh": value_zh, "qualifier_zh": "".join(qualifier_words(value_zh)) or None,
            "unit_zh": unit_zh, "unit_en": unit_en, "comparator": comparator, "source": source}


S9 = "专栏 9"
ROADS = "box between the named bounding roads/rivers"
PLACE = "disc at the named place; the plan gives no boundary"

# ---------------------------------------------------------------- 专栏 9
SUBPARKS: list[dict[str, Any]] = [
    {
        "id": "subpark-yinzhou", "seq": 1, "planned_area_km2": 128.7, "name_zh": "鄞州分园", "name_en": "Yinzhou Sub-park",
        "districts": ["330212"], "area_lines": (1485, 1485), "industry_lines": (1487, 1497),
        "row_lines": (1463, 1498),
        "industries": ["electronic-information", "smart-electrical", "auto-parts", "new-materials"],
        "blocks": [
            block("中心区块", "Central block", plan(1465, 1467).split("；")[0],
                  src(S9, 1465, 1467), box(121.548, 29.745, 121.615, 29.785), ROADS),
            block("姜山区块", "Jiangshan block", plan(1467, 1471).split("；")[1],
                  src(S9, 1467, 1471), box(121.505, 29.690, 121.560, 29.725), ROADS),
            block("东部新城区块", "Eastern New City block",
                  plan(1471, 1475).split("；")[1],
                  src(S9, 1471, 1475), box(121.600, 29.862, 121.628, 29.885), ROADS),
            block("其他重点产业区块", "Other key industrial blocks",
                  plan(1475, 1483).split("；")[1],
                  src(S9, 1475, 1483), None,
                  "not drawn: the plan lists these sites without bounds; the 五乡镇 and "
                  "东吴镇 industrial areas are drawn as the next two blocks"),
            block("五乡镇", "Wuxiang town key industrial area", None,
                  src(S9, 1481, 1483), disc(121.715, 29.855, 1.6), PLACE, label_zh="五乡镇部分重点产业区"),
            block("东吴镇部分重点产业区", "Dongwu town key industrial area", None,
                  src(S9, 1481, 1483), disc(121.735, 29.787, 1.4), PLACE),
        ],
    },
    {
        "id": "subpark-jiangbei", "seq": 2, "planned_area_km2": 33, "name_zh": "江北分园", "name_en": "Jiangbei Sub-park",
        "districts": ["330205"], "area_lines": (1523, 1523), "industry_lines": (1524, 1526),
        "row_lines": (1499, 1526), "industries": ["membrane-materials"],
        "blocks": [
            block("江北高新技术产业园", "Jiangbei High-tech Industrial Park",
                  plan(1501, 1507).split("；")[0],
                  src(S9, 1501, 1507), box(121.388, 29.952, 121.445, 29.988), ROADS),
            block("前洋经开区电商创新园、江北工业园 C 区",
                  "Qianyang EDZ e-commerce park and Jiangbei Industrial Park Zone C",
                  plan(1507, 1513).split("；")[1],
                  src(S9, 1507, 1513), box(121.462, 29.912, 121.487, 29.930), ROADS),
            block("江北工业园 B 区", "Jiangbei Industrial Park Zone B",
                  plan(1513, 1517).split("；")[2],
                  src(S9, 1513, 1517), box(121.505, 29.915, 121.535, 29.932), ROADS),
            block("文创港核心区", "Culture & Creativity Port core",
                  plan(1517, 1521).split("；")[1],
                  src(S9, 1517, 1521), box(121.575, 29.898, 121.615, 29.912), ROADS),
        ],
    },
    {
        "id": "subpark-cixi", "seq": 3, "planned_area_km2": 10, "name_zh": "慈溪分园", "name_en": "Cixi Sub-park",
        "districts": ["330282"], "area_lines": (1531, 1531), "industry_lines": (1533, 1535),
        "row_lines": (1527, 1535), "industries": ["high-end-equipment"],
        "blocks": [
            block("慈溪分园", "Cixi Sub-park", plan(1528, 1530), src(S9, 1527, 1530),
                  box(121.250, 30.190, 121.300, 30.215), ROADS),
        ],
    },
    {
        "id": "subpark-fenghua", "seq": 4, "planned_area_km2": 9.0, "name_zh": "奉化分园", "name_en": "Fenghua Sub-park",
        "districts": ["330213"], "area_lines": (1549, 1549), "industry_lines": (1550, 1552),
        "row_lines": (1537, 1552), "industries": ["intelligent-manufacturing"],
        "blocks": [
            block("滨海新区", "Coastal New Area", plan(1539, 1541).split("；")[0],
                  src(S9, 1539, 1541), box(121.500, 29.555, 121.540, 29.575), ROADS),
            block("尚桥工业园", "Shangqiao Industrial Park",
                  plan(1541, 1545).split("；")[1],
                  src(S9, 1541, 1545), box(121.420, 29.664, 121.442, 29.680), ROADS),
            block("三横园区块", "Sanheng Park block", plan(1545, 1547).split("；")[1],
                  src(S9, 1545, 1547), box(121.383, 29.660, 121.400, 29.674), ROADS),
        ],
    },
    {
        "id": "subpark-xiangshan", "seq": 5, "planned_area_km2": 46.6, "name_zh": "象山分园", "name_en": "Xiangshan Sub-park",
        "districts": ["330225"], "area_lines": (1566, 1566), "industry_lines": (1567, 1569),
        "row_lines": (1554, 1569), "industries": ["port-equipment"],
        "blocks": [
            block("象山经开区", "Xiangshan Economic and Technological Development Zone",
                  plan(1556, 1560).split("；")[0],
                  src(S9, 1556, 1560), disc(121.895, 29.465, 2.6),
                  "disc east of the county seat (丹城), where the zone's parks lie; "
                  "the plan lists its parks without bounds"),
            block("西周镇", "Xizhou town", plan(1560, 1564).split("；")[1],
                  src(S9, 1560, 1564), box(121.720, 29.570, 121.780, 29.600), ROADS),
        ],
    },
    {
        "id": "subpark-ninghai", "seq": 6, "planned_area_km2": 15.2, "name_zh": "宁海分园", "name_en": "Ninghai Sub-park",
        "districts": ["330226"], "area_lines": (1591, 1591), "industry_lines": (1592, 1594),
        "row_lines": (1571, 1594), "industries": ["biomedicine"],
        "blocks": [
            block("生物产业园研发孵化带", "Bio-industry Park R&D incubation belt",
                  plan(1573, 1577).split("，产业化基地")[0],
                  src(S9, 1573, 1577), box(121.440, 29.305, 121.455, 29.320), ROADS),
            block("产业化基地", "Bio-industry Park production base",
                  "产业化基地东至纵二路、南至金港二路、西至东岗路、北至横八路",
                  src(S9, 1577, 1579), box(121.458, 29.322, 121.478, 29.336), ROADS, label_zh="生物产业园产业化基地"),
            block("西面地块", "Bio-industry Park western plot",
                  "西面地块东至规划二路、南至横十四路、西至 74省道、北至创新西路",
                  src(S9, 1579, 1583), box(121.400, 29.310, 121.418, 29.324), ROADS, label_zh="生物产业园西面地块"),
            block("南部滨海新区", "Southern Coastal New Area", "南部滨海新区东至胡陈港、南至沿海南线、西至茶院乡、北至洋镇区",
                  src(S9, 1583, 1587), box(121.560, 29.168, 121.610, 29.195), ROADS),
            block("宁海经开区", "Ninghai Economic Development Zone", "宁海经开区包括新兴 B 区、新兴 C 区、科技区块、梅桥区块",
                  src(S9, 1587, 1589), disc(121.475, 29.350, 1.2),
                  "disc north of the county seat; the plan lists the zone's parts without bounds"),
        ],
    },
    {
        "id": "subpark-yuyao", "seq": 7, "planned_area_km2": 23.1, "name_zh": "余姚分园", "name_en": "Yuyao Sub-park",
        "districts": ["330281"], "area_lines": (1604, 1604), "industry_lines": (1605, 1607),
        "row_lines": (1596, 1607), "industries": ["new-equipment"],
        "blocks": [
            block("余姚经开区（千人计划产业园）", "Yuyao Economic Development Zone (Thousand Talents Industrial Park)",
                  plan(1598, 1602), src(S9, 1598, 1602),
                  disc(121.195, 30.045, 2.7),
                  "disc at the development zone east of Yuyao's centre; the plan lists its parts without bounds"),
        ],
    },
    {
        "id": "subpark-haishu", "seq": 8, "planned_area_km2": 13, "name_zh": "海曙分园", "name_en": "Haishu Sub-park",
        "districts": ["330203"], "area_lines": (1623, 1623), "industry_lines": (1625, 1629),
        "row_lines": (1609, 1629), "industries": ["new-energy-materials"],
        "blocks": [
            block("望春工业园", "Wangchun Industrial Park",
                  plan(1611, 1613).split("；")[0],
                  src(S9, 1611, 1613), box(121.475, 29.860, 121.500, 29.876), ROADS),
            block("海曙智能制造产业园", "Haishu Intelligent Manufacturing Industrial Park",
                  plan(1613, 1619).split("；")[1],
                  src(S9, 1613, 1619), box(121.420, 29.785, 121.470, 29.815), ROADS),
            block("宁工知识产业园", "Ningbo University of Technology Knowledge Industry Park",
                  plan(1619, 1621).split("；")[1],
                  src(S9, 1619, 1621), disc(121.528, 29.878, 0.35),
                  "disc at the 翠柏 campus of 宁波工程学院, which the plan names"),
        ],
    },
    {
        "id": "subpark-beilun", "seq": 9, "planned_area_km2": 130, "name_zh": "北仑分园", "name_en": "Beilun Sub-park",
        "districts": ["330206"], "area_lines": (1631, 1631), "industry_lines": (1631, 1640),
        "industry_zh": "高端装备集群",  # split by a page break: 高端装备 (line 1631) … 集群 (line 1640)
        "row_lines": (1631, 1640), "industries": ["high-end-equipment"],
        "blocks": [
            block("新碶高新产业园", "Xinqi High-tech Industrial Park", None, src(S9, 1631, 1632),
                  disc(121.845, 29.895, 3.0), "disc at 新碶 street; " + PLACE),
            block("春晓高新产业园", "Chunxiao High-tech Industrial Park", None, src(S9, 1632, 1632),
                  disc(121.905, 29.800, 2.8), "disc at 春晓; " + PLACE),
            block("小港高端装备园", "Xiaogang High-end Equipment Park", None, src(S9, 1632, 1634),
                  disc(121.735, 29.915, 2.4), "disc at 小港 street; " + PLACE),
            block("大碶模具汽配城", "Daqi Mould and Auto Parts City", None, src(S9, 1634, 1634),
                  disc(121.790, 29.860, 2.6), "disc at 大碶 street; " + PLACE),
            block("芯港小镇", "Xingang (Chip Port) Town", "芯港小镇东至沙溪路、南至球河线、西至珠江路、北至北仑港",
                  src(S9, 1634, 1638), box(121.800, 29.928, 121.835, 29.945), ROADS),
        ],
        "blocks_intro_zh": "新碶、大碶、小港街道重点产业园区包括新碶高新产业园、春晓高新产业园、小港高端装备园、大碶模具汽配城",
    },
    {
        "id": "subpark-daxie", "seq": 10, "planned_area_km2": 12.3, "name_zh": "大榭分园", "name_en": "Daxie Sub-park",
        "districts": ["330206"], "area_lines": (1652, 1652), "industry_lines": (1653, 1655),
        "row_lines": (1642, 1655), "industries": ["energy-trade"],
        # 大榭岛 is administered within 北仑区; its parts must stay on the island.
        "mask_box": [121.922, 29.910, 122.000, 29.962],
        "blocks": [
            block("产业区 1", "Industrial area 1", "大榭重点产业区产业区 1 东至东港南路、南至北渡路、西至滨海西路、北至万华化工码头",
                  src(S9, 1644, 1648), box(121.932, 29.914, 121.962, 29.932), ROADS),
            block("产业区 2", "Industrial area 2", "产业区 2 东至实华码头、西至环岛北路、南至渔业码头、北至小田湾码头",
                  src(S9, 1648, 1650), box(121.962, 29.934, 121.990, 29.952), ROADS),
        ],
    },
]

# ---------------------------------------------------------------- 四（二）
S4_2 = "四（二）"
CORRIDOR = {
    "description_zh": plan(1661, 1663),
    "axis_zh": "以甬江—姚江沿线廊道为主轴",
    "focus_zh": plan(1665, 1667).split("聚焦")[1].split("等领域")[0],
    "industries": ["new-materials", "industrial-internet", "key-components", "intelligent-manufacturing",
                   "life-health", "innovation-design"],
    "areas_zh": "以甬江两岸与东钱湖地区为核心打造南北两大片区",
    "source": src(S4_2, 1659, 1692),
}

# ---------------------------------------------------------------- 专栏 10
S10 = "专栏 10"


def unit(uid: str, name_zh: str, name_en: str, lines: tuple[int, int], industries: list[str],
         shape: dict[str, Any], area: str, where: str) -> dict[str, Any]:
    text = plan(*lines)
    head, function_zh = text.split("：", 1)
    unit_type = head.removeprefix(name_zh).strip("（）") or None
    positioning = function_zh.split("”的功能定位")[0].split("按照“")[1] if "的功能定位" in function_zh else None
    return {"id": uid, "name_zh": name_zh, "name_en": name_en, "unit_type_zh": unit_type,
            "positioning_zh": positioning, "function_zh": function_zh, "industries": industries,
            "source": src(S10, *lines), "shape": shape, "area": area, "where": where}


UNITS = [
    unit("unit-yongjiang-lab", "甬江实验室", "Yongjiang Laboratory", (1696, 1704),
         ["new-materials"], disc(121.615, 29.935, 1.0), "north", "the laboratory's site in 镇海 (庄市)"),
    unit("unit-culture-creativity-port", "宁波文创港", "Ningbo Culture & Creativity Port", (1706, 1714),
         ["digital-creative", "aerospace-information", "industrial-internet"],
         disc(121.596, 29.905, 0.9), "north", "the port on the north bank of the 甬江 in 江北"),
    unit("unit-east-bund", "时尚东外滩", "Fashion East Bund", (1716, 1722),
         ["fashion-creative", "digital-creative", "artificial-intelligence"],
         disc(121.574, 29.884, 0.7), "north", "东外滩, on the east bank below 三江口"),
    unit("unit-software-park", "宁波软件园", "Ningbo Software Park", (1724, 1732),
         ["industry-software", "digital-chips", "industrial-internet", "5g"],
         disc(121.632, 29.880, 0.8), "north", "the park in the national high-tech zone"),
    unit("unit-emerging-industry-complex", "宁波新兴产业创新综合体", "Ningbo Emerging Industries Innovation Complex",
         (1734, 1742), ["new-materials", "industrial-internet"], disc(121.648, 29.894, 0.8), "north",
         "the national high-tech zone, south bank of the 甬江"),
    unit("unit-jiangwan-town", "江湾智创小镇", "Jiangwan Smart Creation Town", (1744, 1752),
         ["3d-manufacturing", "intelligent-manufacturing"], disc(121.668, 29.910, 0.8), "north",
         "the 甬江 waterfront (依托甬江水岸) east of the high-tech zone"),
    unit("unit-beilun-binjiang", "北仑滨江国际智创园", "Beilun Riverside International Innovation Park",
         (1754, 1763), ["digital-trade", "digital-creative"], disc(121.705, 29.938, 0.8), "north",
         "the south bank of the 甬江 at 小港, 北仑"),
    unit("unit-panhuo-zhonghe", "潘火—中河都市产业社区", "Panhuo–Zhonghe Urban Industrial Community",
         (1765, 1771), ["digital-chips", "3d-manufacturing", "integrated-circuits"],
         disc(121.582, 29.828, 1.0), "south", "between 中河 and 潘火 streets, 鄞州"),
    unit("unit-xiaying-smart-city", "下应东南智慧城", "Xiaying Southeast Smart City", (1773, 1779),
         ["future-health", "smart-medical-devices", "internet-healthcare"],
         disc(121.607, 29.806, 0.9), "south", "下应 street, 鄞州"),
    unit("unit-dongqianhu-town", "东钱湖创智小镇", "Dongqian Lake Innovation Town", (1781, 1787),
         [], disc(121.636, 29.806, 0.8), "south", "the north shore of 东钱湖 (钱湖北路), clipped off the lake"),
    unit("unit-meihu-town", "梅湖小镇", "Meihu Town", (1789, 1793), [],
         disc(121.648, 29.741, 0.8), "south", "梅湖, the lake's southern basin by 韩岭, clipped off 东钱湖"),
    unit("unit-zhejiang-innovation-center", "浙江创新中心", "Zhejiang Innovation Center", (1795, 1801),
         [], disc(121.668, 29.801, 0.7), "south", "莫枝, the 东钱湖 resort's seat on the north-east shore, clipped off the lake"),
]

# ---------------------------------------------------------------- 专栏 11
S11 = "专栏 11"


def node(nid: str, name_zh: str, name_en: str, district: str, lines: tuple[int, int],
         form: str, industries: list[str], shape: dict[str, Any], method: str,
         targets: list[dict[str, Any]], planned_area_km2: float | None = None) -> dict[str, Any]:
    return {"id": nid, "name_zh": name_zh, "name_en": name_en, "districts": [district],
            "description_zh": after_colon(*lines), "source": src(S11, *lines), "form": form,
            "industries": industries, "shape": shape, "method": method, "targets": targets,
            "planned_area_km2": planned_area_km2,
            "planned_area_zh": figure(plan(*lines), planned_area_km2, "平方公里") if planned_area_km2 else None}


def belt(points: list[tuple[float, float]], width_km: float, side: str = "both") -> dict[str, Any]:
    """A belt of the given width along a line; side 'left'/'right' of its direction, or 'both'."""
    return {"belt": {"line": points, "width_km": width_km, "side": side}}


NODES = [
    node("node-haishu-moon-lake", "海曙环月湖创新中心", "Haishu Moon Lake Innovation Center", "330203",
         (1838, 1846), "centre", ["industrial-internet"],
         {"hull": [(121.537, 29.862), (121.528, 29.878), (121.545, 29.867), (121.551, 29.873)],
          "buffer_km": 0.6},
         "hull of the places the plan names (铁路宁波站, 翠柏校区, 月湖) buffered by 0.6 km",
         [target("node-haishu-top-talents", "新集聚海内外顶尖人才", "new top talents from home and abroad",
                 5, "人", "persons", ">=", src(S11, 1844, 1846)),
          target("node-haishu-key-talents", "区级以上重点人才计划入选", "selected for district-level or higher key talent programmes",
                 100, "人", "persons", ">=", src(S11, 1845, 1846))]),
    node("node-yaojiang-north-bank", "姚江北岸滨水创新带", "Yaojiang North Bank Waterfront Innovation Belt", "330205",
         (1848, 1855), "belt", ["industry-internet", "industrial-internet"],
         {"axis_belt": {"west": 121.44, "east": 121.62, "width_km": 1.6}},
         "belt 1.6 km wide north of the 姚江 and 甬江 (their course traced from the district boundary), "
         "clipped to 江北区",
         []),
    node("node-yongjiang-north-bank", "甬江科创大走廊北岸创新带", "Yongjiang Corridor North Bank Innovation Belt", "330211",
         (1857, 1864), "belt", ["new-materials", "intelligent-manufacturing"],
         {"axis_belt": {"west": 121.60, "east": 121.73, "width_km": 2.6}},
         "belt 2.6 km wide north of the 甬江 (its course traced from the district boundary), clipped to 镇海区",
         [target("node-yongjiang-north-institutes", "建成产业技术研究院", "industrial technology research institutes built",
                 8, "家", "institutes", ">=", src(S11, 1863, 1864))]),
    node("node-beilun-overseas-engineers", "北仑高端装备海外工程师协同创新中心",
         "Beilun High-end Equipment Overseas Engineers Collaborative Innovation Center", "330206",
         (1866, 1872), "centre", ["integrated-circuits", "high-end-moulds", "high-end-equipment"],
         disc(121.845, 29.905, 0.5),
         "disc at the district seat (新碶): the plan gives a floor area (近 3.6 万平方米) but no site, "
         "so this marks the district, not the building",
         [target("node-beilun-engineers", "新增海外工程师", "new overseas engineers", 100, "人", "persons", ">=",
                 src(S11, 1871, 1872)),
          target("node-beilun-transfers", "技术成果转化", "technology results transferred", 500, "项", "items", ">=",
                 src(S11, 1872, 1872))]),
    node("node-chengnan-corridor", "城南智创走廊", "Chengnan Smart Innovation Corridor", "330212",
         (1874, 1886), "corridor", ["artificial-intelligence"],
         belt([(121.545, 29.830), (121.548, 29.800), (121.552, 29.770)], 2.2),
         "belt 2.2 km wide along the 鄞州 southern new town (城南) axis south of the city centre; "
         "the plan names no axis",
         [target("node-chengnan-teams", "集聚省级及以上领军人才团队", "provincial-or-higher leading talent teams",
                 120, "个", "teams", ">=", src(S11, 1882, 1884)),
          target("node-chengnan-incubators", "国家级孵化器及众创空间", "national incubators and maker spaces",
                 15, "个", "units", ">=", src(S11, 1884, 1886)),
          target("node-chengnan-carriers", "全链条孵化载体数量", "full-chain incubation carriers",
                 60, "个", "units", ">", src(S11, 1886, 1886)),
          target("node-chengnan-space", "众创面积", "maker-space floor area", 50, "万平方米", "10,000 m²", ">",
                 src(S11, 1886, 1886))]),
    node("node-sanhao-corridor", "三号青创科创走廊", "No. 3 Youth Innovation Corridor", "330213",
         (1888, 1900), "corridor", ["life-health", "intelligent-manufacturing", "low-carbon"],
         belt([(121.480, 29.730), (121.455, 29.700), (121.425, 29.672), (121.405, 29.650)], 2.0),
         "belt 2.0 km wide along the line from 鄞州 to 奉化's centre followed by Metro Line 3 (三号线), "
         "our reading of 三号; clipped to 奉化区",
         [target("node-sanhao-talents", "新集聚高端创业创新人才", "new high-end entrepreneurial talents",
                 1000, "人", "persons", ">=", src(S11, 1896, 1898)),
          target("node-sanhao-firms", "培育“小而美”企业", "“small and beautiful” firms fostered", 250, "家", "firms", ">=",
                 src(S11, 1896, 1898)),
          target("node-sanhao-platforms", "建成创新孵化平台", "innovation incubation platforms built", 15, "个", "platforms",
                 ">=", src(S11, 1898, 1900)),
          target("node-sanhao-makerspaces", "众创空间", "maker spaces", 15, "个", "units", ">=", src(S11, 1898, 1900))]),
    node("node-yongxi-corridor", "甬西智能科创走廊", "Yongxi Smart Innovation Corridor", "330281",
         (1902, 1916), "corridor", ["optoelectronic-smart", "intelligent-manufacturing"],
         belt([(121.120, 30.050), (121.180, 30.040), (121.250, 30.020), (121.310, 29.995)], 2.4),
         "belt 2.4 km wide along the 姚江 valley from Yuyao's centre eastwards, through the 智能光电小镇 core; "
         "the plan names no axis",
         []),
    node("node-qianwan-corridor", "前湾智能经济人才走廊", "Qianwan Smart Economy Talent Corridor", "330282",
         (1917, 1929), "corridor", [],
         belt([(121.080, 30.300), (121.200, 30.305), (121.320, 30.310), (121.420, 30.300)], 3.0),
         "belt along the 前湾新区 (Hangzhou Bay New Area) east-west axis, its width fitted so that the area "
         "matches the plan's 近 100 平方公里",
         [target("node-qianwan-talents", "集聚高层次人才", "high-level talents", 1000, "人", "persons", ">=",
                 src(S11, 1927, 1929)),
          target("node-qianwan-platforms", "市级以上平台", "municipal-or-higher platforms", 50, "个", "platforms", ">=",
                 src(S11, 1929, 1929))],
         planned_area_km2=100),
    node("node-xinghai-road-corridor", "兴海路双创走廊", "Xinghai Road Innovation and Entrepreneurship Corridor", "330226",
         (1931, 1943), "corridor", ["new-materials", "bio-industry", "low-carbon", "marine-bio-breeding"],
         belt([(121.445, 29.270), (121.448, 29.300), (121.455, 29.340)], 1.6),
         "belt 1.6 km wide along 兴海路, the road that names it, through 宁海's centre",
         []),
    node("node-aerospace-city", "航天智慧科技城", "Aerospace Smart Science City", "330225",
         (1945, 1955), "city", ["commercial-spaceflight", "aerospace-information"],
         disc(121.905, 29.440, 1.8),
         "disc south-east of the county seat: the plan names the 宁波国际航天港 without a site, "
         "so this marks the county, not a chosen site",
         [target("node-aerospace-talents", "聚集各类人才", "talents of all kinds", 10000, "人", "persons", ">=",
                 src(S11, 1953, 1953)),
          target("node-aerospace-output", "航天产业总产值", "aerospace industry gross output", 100, "亿元",
                 "100 million CNY", None, src(S11, 1953, 1955))]),
]

# ---------------------------------------------------------------- 四（三）
S4_3 = "四（三）"
PROVINCIAL_PARKS = [
    {"id": "provincial-jiangbei-optoelectronic", "name_zh": "江北光电新材料园区",
     "name_en": "Jiangbei Optoelectronic New Materials Park", "focus_zh": "膜材料",
     "industries": ["membrane-materials", "optoelectronics"], "source": src(S4_3, 1807, 1811),
     "shape": disc(121.425, 29.985, 1.6),
     "method": "disc at the 江北 high-tech industrial park near 慈城, the provincial high-tech zone's seat; "
               "the plan gives no boundary"},
    {"id": "provincial-meishan-advanced-manufacturing", "name_zh": "梅山先进制造园区",
     "name_en": "Meishan Advanced Manufacturing Park", "focus_zh": "智能装备",
     "industries": ["smart-equipment", "advanced-manufacturing"], "source": src(S4_3, 1811, 1811),
     "shape": disc(122.000, 29.785, 2.0),
     "method": "disc on 梅山岛 (北仑), clipped to land; the plan gives no boundary"},
]

STREETS = [
    {"id": "street-cuibaili", "name_zh": "翠柏里创新街区", "name_en": "Cuibaili Innovation Block",
     "source": src(S4_3, 1826, 1828), "source_other": src(S11, 1842, 1842),
     "shape": belt([(121.523, 29.879), (121.532, 29.876)], 0.35),
     "method": "strip 350 m wide along 翠柏路 by the 翠柏 campus, 海曙"},
    {"id": "street-zhongguan-road", "name_zh": "中官路创新创业大街", "name_en": "Zhongguan Road Innovation Street",
     "source": src(S4_3, 1826, 1828), "source_other": None,
     "shape": belt([(121.585, 29.936), (121.612, 29.938)], 0.3),
     "method": "strip 300 m wide along 中官路 in 庄市, 镇海"},
]

# ---------------------------------------------------------------- 专栏 14
S14 = "专栏 14"
QIANWAN_ZONES = [
    {"id": "qianwan-coastal-core", "name_zh": "滨海创新发展核", "name_en": "Coastal Innovation Development Core",
     "lines": (2222, 2226), "industries": ["rd-services", "international-trade", "business-services",
                                          "industrial-design", "culture-tourism"],
     "shape": box(121.240, 30.325, 121.310, 30.350), "method": "box on the 前湾新区 coast (滨海), north of the new city"},
    {"id": "qianwan-south-core", "name_zh": "南部产城服务核", "name_en": "Southern City-Industry Service Core",
     "lines": (2228, 2232), "industries": ["bearings-seals", "life-health", "high-end-equipment", "civil-military"],
     "shape": box(121.250, 30.270, 121.310, 30.292), "method": "box in the south of the 前湾新区 new city"},
    {"id": "qianwan-east-manufacturing", "name_zh": "东部先进智造区", "name_en": "Eastern Advanced Smart Manufacturing Zone",
     "lines": (2234, 2236), "industries": ["automotive", "aerospace", "biomedicine", "electronic-information"],
     "shape": box(121.320, 30.295, 121.400, 30.335), "method": "box in the east of 前湾新区"},
    {"id": "qianwan-west-emerging", "name_zh": "西部新兴产业区", "name_en": "Western Emerging Industries Zone",
     "lines": (2238, 2242), "industries": ["new-materials", "new-energy-vehicles", "energy-saving-environmental",
                                          "auto-parts"],
     "shape": box(121.140, 30.290, 121.230, 30.325), "method": "box in the west of 前湾新区"},
]

# ---------------------------------------------------------------- reclaimed land
# GSHHS traces the shoreline of the 1990s; these features lie on land reclaimed since, which the
# AMap district boundaries (2020s) include. Each is checked against the district polygons instead,
# and keeps the reason and the plan's lines that place it on that coast.
_QIANWAN = ("前湾新区 (杭州湾新区) is built on tidal flats of Hangzhou Bay reclaimed since the 2000s; "
            "GSHHS shows most of it as sea")
LAND_EXCEPTIONS: dict[str, dict[str, str]] = {
    "qianwan-coastal-core": {"reason": _QIANWAN, "source": src(S14, 2218, 2224)},
    "qianwan-east-manufacturing": {"reason": _QIANWAN, "source": src(S14, 2218, 2236)},
    "qianwan-west-emerging": {"reason": _QIANWAN, "source": src(S14, 2218, 2242)},
    "node-qianwan-corridor": {"reason": _QIANWAN + "; the plan's 近 100 平方公里 cannot fit on the old shoreline",
                              "source": src(S11, 1917, 1929)},
    "subpark-ninghai": {"reason": "its 南部滨海新区 block, bounded by 胡陈港 and 沿海南线 (a coast road), lies on "
                                  "reclaimed tidal flats of 三门湾 that GSHHS shows as sea",
                        "source": src(S9, 1583, 1587)},
    "subpark-daxie": {"reason": "its two areas are bounded by wharves (万华化工码头, 实华码头, 渔业码头, 小田湾码头): "
                                "quays and yards built out from 大榭岛 over the sea after the shoreline GSHHS traces",
                      "source": src(S9, 1644, 1650)},
}
