"""Every word the maps show, in Chinese and English: layer names, legend, panels, the note, popup headings.

The plan's own text (``*_zh`` fields) is never translated: it is shown verbatim in both languages.
"""

from __future__ import annotations

from geo.boundaries import Boundaries

LANGS = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {  # key -> (zh, en)
    # layers, one per kind (the corridor kind is split into its zone and its two areas)
    "layer.districts": ("区县", "Districts and counties"),
    "layer.subpark": ("高新区分园", "High-tech zone sub-parks"),
    "layer.corridor-zone": ("甬江科创大走廊", "Yongjiang S&T Innovation Corridor"),
    "layer.corridor-areas": ("走廊南北两片区", "Corridor north and south areas"),
    "layer.corridor-axis": ("甬江—姚江主轴", "Yongjiang–Yaojiang axis"),
    "layer.corridor-unit": ("走廊特色园区", "Corridor featured parks"),
    "layer.innovation-node": ("区县创新节点", "County innovation nodes"),
    "layer.provincial-park": ("省级高新园区", "Provincial high-tech parks"),
    "layer.innovation-street": ("创新街区", "Innovation streets"),
    "layer.qianwan-zone": ("前湾新区布局", "Qianwan New Area zones"),
    "layer.platform": ("创新平台", "Innovation platforms"),
    "layer.focus": ("所选要素", "Selected feature"),
    "layer.neighbours": ("周边要素", "Neighbouring features"),
    # basemaps
    "tiles.osm": ("OpenStreetMap", "OpenStreetMap"),
    "tiles.tianditu": ("天地图", "Tianditu"),
    "tiles.tianditu-labels": ("天地图注记", "Tianditu labels"),
    "tiles.amap": ("高德地图", "AMap"),
    # the note on every map
    "note": ("边界为示意，非测绘成果", "Boundaries are schematic, not surveyed"),
    "note.mixed": ("边界 {schematic} 处为示意（非测绘成果），{surveyed} 处为测绘成果（见各要素弹窗）",
                   "{schematic} boundaries schematic, not surveyed; {surveyed} surveyed (see each popup)"),
    "print.note.mixed": ("边界 {schematic} 处为示意（非测绘成果），{surveyed} 处为测绘成果（粗实线）",
                         "{schematic} boundaries schematic, not surveyed; {surveyed} surveyed (heavy solid outline)"),
    "note.gcj02": ("坐标已转换为 GCJ-02 以对齐高德底图", "Shifted to GCJ-02 to match the AMap basemap"),
    "title": ("宁波“十四五”科技创新规划空间布局", "Ningbo 14th Five-Year S&T Innovation Plan: spatial layout"),
    # print maps (maps.printmap): the sheet's subtitle, margins and notes
    "print.subtitle.overview": ("国家高新区分园、甬江科创大走廊、区县创新节点与创新平台",
                                "High-tech zone sub-parks, Yongjiang corridor, county innovation nodes and platforms"),
    "print.legend": ("图例", "Legend"),
    "print.sources": ("资料来源", "Sources"),
    "print.plan": ("《宁波市“十四五”科技创新规划》，各要素依规划原文绘制，逐条注明行号",
                   "Ningbo's 14th Five-Year Plan for Science and Technology Innovation; every feature is drawn "
                   "from, and cites, the plan's lines"),
    "print.district_source": ("区县界线", "District boundaries"),
    "print.schematic": ("本图为示意图：园区、走廊等边界依规划文字示意绘制，非测绘成果，不作为权属界线或用地审批依据",
                        "Schematic map: the boundaries of parks, corridors and zones are drawn from the plan's "
                        "words, not surveyed; not for ownership or land-use decisions"),
    "print.mixed": ("园区、走廊等边界中 {schematic} 处为示意，依规划文字绘制，非测绘成果，"
                    "不作为权属界线或用地审批依据；{surveyed} 处为测绘成果：{surveyed_list}",
                    "Of the boundaries of parks, corridors and zones, {schematic} are schematic, drawn from the plan's "
                    "words, not surveyed, not for ownership or land-use decisions; {surveyed} surveyed: "
                    "{surveyed_list}"),
    "print.crs": ("坐标系：CGCS2000，高斯-克吕格投影，中央经线 {lon}°E",
                  "CGCS2000, Gauss-Krüger (transverse Mercator), central meridian {lon}°E"),
    "print.scale": ("比例尺 1:{denominator}（{paper} 幅面原大打印）", "Scale 1:{denominator} when printed at full "
                    "size on {paper}"),
    "print.date": ("制图日期", "Date"),
    "print.maker": ("制图", "Made with"),
    "print.approval": ("审图号", "Map approval No. (审图号)"),
    "print.approval_note": ("由测绘地理信息主管部门审核后填写", "to be filled in by the reviewing surveying and "
                            "mapping authority"),
    "print.north": ("北", "N"),
    "print.locator": ("位置示意", "Location in Ningbo"),
    "print.more_unplaced": ("等 {n} 个", "and {n} more"),
    "print.no_site_city": ("规划未给出该平台的位置和所在区县，图中显示全市",
                           "The plan gives neither this platform's site nor its district; the map shows the city"),
    # controls
    "search.placeholder": ("搜索名称（中文、拼音或英文）", "Search names (中文, pinyin, English)"),
    "search.none": ("无匹配", "No match"),
    # legend
    "legend.title": ("分园主导产业", "Sub-parks by lead industry"),
    "legend.others": ("其他图层", "Other layers"),
    "legend.platforms": ("创新平台类型", "Platform types"),
    "legend.boundaries": ("边界", "Boundaries"),
    "legend.schematic": ("示意，依规划文字绘制", "schematic, drawn from the plan's words"),
    "legend.surveyed": ("测绘成果", "surveyed"),
    "legend.hit": ("承载该产业", "Hosts the industry"),
    "legend.muted": ("其他要素", "Other features"),
    # platform types
    "platform.laboratory": ("实验室", "Laboratory"),
    "platform.science-facility": ("重大科技设施", "Science facility"),
    "platform.research-institute": ("科研院所", "Research institute"),
    "platform.innovation-centre": ("创新中心", "Innovation centre"),
    "platform.university": ("高校", "University"),
    # popup headings
    "h.kind": ("类型", "Kind"),
    "h.districts": ("所在区县", "Districts"),
    "h.planned": ("规划面积", "Planned area"),
    "h.computed": ("计算面积（示意图形）", "Computed area (as drawn)"),
    "h.computed_surveyed": ("计算面积（测绘边界）", "Computed area (of the surveyed boundary)"),
    "h.industry": ("产业（规划原文）", "Industries (plan text)"),
    "h.function": ("功能（规划原文）", "Function (plan text)"),
    "h.positioning": ("功能定位（规划原文）", "Positioning (plan text)"),
    "h.description": ("描述（规划原文）", "Description (plan text)"),
    "h.focus": ("聚焦（规划原文）", "Focus (plan text)"),
    "h.unit_type": ("单元类型（规划原文）", "Unit type (plan text)"),
    "h.industries": ("产业分类", "Industry codes"),
    "h.blocks": ("区块及四至（规划原文）", "Blocks and their bounds (plan text)"),
    "h.targets": ("2025 年目标", "2025 targets"),
    "h.source": ("来源", "Source"),
    "h.location": ("位置", "Location"),
    "h.status": ("建设状态（据规划）", "Status (as the plan says)"),
    "status.planned": ("谋划/布局", "planned"),
    "status.under-construction": ("建设中", "under construction"),
    "status.operating": ("已建成/运行", "operating"),
    "status.unknown": ("规划未说明", "not stated by the plan"),
    "h.geometry": ("图形", "Geometry"),
    "block.no_bounds": ("规划未给出四至", "the plan gives no bounds"),
    "block.not_drawn": ("未绘制", "not drawn"),
    "geometry.schematic": ("示意边界，依规划文字绘制，非测绘成果",
                           "schematic boundary drawn from the plan's words, not surveyed"),
    "geometry.surveyed": ("测绘边界", "surveyed boundary"),
    "h.geometry_source": ("边界来源", "Boundary source"),
    "geometry.administrative": ("行政区划边界（简化显示）", "administrative boundary (simplified for display)"),
    "location.approximate": ("大致位置", "approximate site"),
    "location.unknown": ("位置未公开，未在图上标注", "site not publicly known; not on the map"),
    # kinds, as a popup names them
    "kind.subpark": ("国家高新区分园", "Sub-park of the national high-tech zone"),
    "kind.corridor": ("甬江科创大走廊", "Yongjiang S&T Innovation Corridor"),
    "kind.corridor-axis": ("走廊主轴", "Corridor axis"),
    "kind.corridor-unit": ("走廊特色园区", "Corridor featured park"),
    "kind.innovation-node": ("区县创新节点", "County innovation node"),
    "kind.provincial-park": ("省级高新园区", "Provincial high-tech park"),
    "kind.innovation-street": ("创新街区", "Innovation street"),
    "kind.qianwan-zone": ("前湾新区功能区", "Qianwan New Area zone"),
    "kind.platform": ("创新平台", "Innovation platform"),
    "kind.district": ("区县", "District or county"),
    "kind.city": ("市域", "City"),
    # industry panel
    "panel.industry": ("产业", "Industry"),
    "panel.narrower": ("含下位产业", "Including narrower terms"),
    "panel.features": ("承载要素", "Hosting features"),
    "panel.areas": ("片区", "areas"),
    "panel.platforms": ("平台", "platforms"),
    "panel.planned": ("规划面积合计", "Planned area, total"),
    "panel.computed": ("计算面积（并集）", "Computed area (union)"),
    "panel.no_figure": ("规划未给出", "not given by the plan"),
    "panel.overlap": ("不同类型的片区相互重叠，计算面积按其并集计，重叠部分只计一次。",
                      "Areas of different kinds overlap; the computed area is of their union, so shared ground "
                      "counts once."),
    "panel.districts": ("所在区县", "Districts"),
    "panel.unplaced": ("位置未公开的平台（未上图）", "Platforms without a known site (not on the map)"),
    "panel.list": ("要素", "Features"),
    # feature panel
    "panel.no_site": ("该平台位置未公开，图中显示其所在区县", "This platform's site is not publicly known; "
                                                            "the map shows its district"),
    "unit.km2": ("平方公里", "km²"),
    # popup links
    "link.page": ("详情页", "Page"),
    "link.map": ("地图", "Map"),
    "link.version": ("数据与来源（JSON，当前版本）", "Data and source (JSON, current version)"),
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown lang {lang!r}; choose one of {', '.join(LANGS)}")
    return lang


def t(key: str, lang: str) -> str:
    zh, en = TEXT[key]
    return zh if lang == "zh" else en


def boundary_note(bounds: Boundaries, lang: str, paper: bool = False) -> str:
    """A map's note: every boundary schematic, or how many of them are schematic and how many surveyed (on paper,
    with how a surveyed one looks rather than a pointer to the popups)."""
    if not bounds.mixed:
        return t("note", lang)
    return t("print.note.mixed" if paper else "note.mixed", lang).format(schematic=bounds.schematic,
                                                                           surveyed=bounds.surveyed)
