"""Write data/platforms.geojson: the science and innovation platforms the plan names.

Run from the repository root: `PYTHONPATH=. python scripts/build_platforms.py`

The data are the literals below. Scope (plan.txt line numbers):
  专栏 4 laboratories (1040-1137)                -> laboratory
  专栏 5 major science facilities (1138-1198)    -> science-facility
  三（二）, 专栏 6 (1199-1267), 专栏 8 (1413-1447) -> research-institute
  东海绿色石化技术创新中心 (专栏 8), 专栏 7 tiers -> innovation-centre
  universities (三（三）, 1268-1301, and 专栏 10) -> university

description_zh is the plan's own text, copied from plan.txt with whitespace removed
(the text after the colon of a 专栏 item, or a sentence about that platform alone);
null where the plan only lists the platform in passing.

Points are given only where the site is publicly known to within about 2 km; they are
checked against the district polygons of data/districts.geojson before writing.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from shapely.geometry import Point, shape

from geo.io import write_geojson_atomic
from geo.schema import PLATFORM_TYPES

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "platforms.geojson"
PLAN = ROOT / "data" / "sources" / "plan.txt"
DISTRICTS_FILE = ROOT / "data" / "districts.geojson"
INDUSTRIES_FILE = ROOT / "data" / "industries.json"

_DISTRICT_FEATURES = json.loads(DISTRICTS_FILE.read_text(encoding="utf-8"))["features"]
# adcode -> name, from the district layer itself (built first, see scripts/build_districts.py)
DISTRICTS = {f["properties"]["adcode"]: f["properties"]["name_zh"] for f in _DISTRICT_FEATURES
             if f["properties"]["kind"] == "district"}

# Shared anchor: the New Materials Town (新材料小镇) cluster in Zhuangshi, Zhenhai, around
# Zhongguan West Road (中官西路) and Zhuangshi Avenue (庄市大道): NIMTE, the UCAS Ningbo
# College of Materials Engineering and the Yongjiang Laboratory blocks all lie along
# 中官西路 there, north of the Jiangbei/Zhenhai line that bounds Ningbo University.
ZHUANGSHI = (121.61500, 29.92600)

NULL_NO_SITE = "the plan names no site and none is publicly established"

# Fields: id, platform_type, name_zh, name_en, description_zh, industries, district_adcodes,
# source, source_other, point ([lon, lat] or None), location_method.
PLATFORMS: list[dict] = [
    # ---- 专栏 4 laboratories -------------------------------------------------------------
    dict(
        id="platform-yongjiang-lab",
        platform_type="laboratory",
        name_zh="甬江实验室",
        name_en="Yongjiang Laboratory (Zhejiang Provincial Laboratory for New Materials)",
        description_zh="聚焦绿色化工与高端化学材料、先进高分子与复合材料、高端合金材料、电子信息材料与器件、新能源材料、新型生物医用材料、极端条件使役材料、先进制造技术与装备8个领域方向，面向基础性前沿性领域进行部署，组织重大科学研究计划和核心技术攻关，全力建设新材料浙江省实验室，将实验室建设成为具备“强大创新资源配置能力、重大科技成果供给能力”的战略科技力量。",
        industries=["new-materials", "chemical-new-materials", "new-energy-materials", "advanced-manufacturing"],
        district_adcodes=["330211"],
        source="专栏 4, lines 1042-1052",
        source_other=(
            "一（一）, line 39; 一（三）, lines 208 and 304-306; 二（三）, line 830; 三（一）, lines 997-1009 "
            "and 1034-1038; 四（二）, lines 1669-1671; 专栏 10 (甬江实验室（新材料创新功能单元）), lines 1696-1704; "
            "专栏 11, lines 1857-1861; 九（一）, line 2566"
        ),
        point=ZHUANGSHI,
        location_method=(
            "Zhenhai New Materials Town, Zhuangshi: the start-up area, research-institute cluster and "
            "research block B lie along Zhongguan West Road near Zhuangshi Avenue, next to NIMTE; "
            "one point for the whole campus, from public knowledge, ±1.5 km"
        ),
    ),
    dict(
        id="platform-agri-product-safety-skl",
        platform_type="laboratory",
        name_zh="省部共建农产品质量安全危害因子与风险防控国家重点实验室",
        name_en=(
            "State Key Laboratory for Managing Biotic and Chemical Threats to the Quality and "
            "Safety of Agro-products (jointly built by province and ministry)"
        ),
        description_zh="聚焦我国农产品质量安全重大科学技术问题，围绕农产品质量安全危害因子污染机理、农产品质量安全风险评估、农产品质量安全过程控制，以我国东部沿海地区主要优势和特色农产品为对象，围绕化学污染物污染农产品机理、有害微生物污染农产品机理、农产品主要污染物的生态毒理、农产品营养评价与功能因子挖掘、农产品质量安全风险评估与标准、农产品产地土壤环境质量控制、有害生物流行机制与预测预警、有害生物致害机制与抗性种质创新等开展科学问题研究和关键技术研发。",
        industries=["agri-food-safety"],
        district_adcodes=[],
        source="专栏 4, lines 1054-1067",
        source_other="一（一）, lines 39-41; 三（一）, lines 1011-1014",
        point=None,
        location_method=(
            "no single Ningbo site: the laboratory is co-hosted by the Zhejiang Academy of Agricultural "
            "Sciences (Hangzhou) and Ningbo University; the plan names no site"
        ),
    ),
    dict(
        id="platform-marine-materials-key-lab",
        platform_type="laboratory",
        name_zh="海洋新材料与应用重点实验室",
        name_en="Key Laboratory of Marine New Materials and Applications",
        description_zh="围绕海洋环境材料损伤与防护、海洋环境功能材料、海洋工程复合材料、海洋新材料理论计算与大数据、海洋工程装备集成应用等方向，聚焦海洋环境下工程材料与装备在服役过程中面临的化学、电化学、力学、摩擦学等共性耦合损伤与长效安全服役问题，推进以解决材料电化学耦合腐蚀、生物污损、力学-化学交互磨损等重大海洋材料损伤和防护的机理和技术为核心的协同能力，探索海洋工程装备集成与应用新技术。",
        industries=["marine-materials", "new-materials"],
        district_adcodes=[],
        source="专栏 4, lines 1069-1081",
        source_other="三（一）, line 1012",
        point=None,
        location_method=(
            "the plan names neither host nor site; it is probably the marine-materials key laboratory "
            "hosted by NIMTE (Zhenhai), but that is not confirmed, so no point"
        ),
    ),
    dict(
        id="platform-blockchain-key-lab",
        platform_type="laboratory",
        name_zh="区块链重点实验室",
        name_en="Blockchain Key Laboratory",
        description_zh="聚焦分布式异构区块链体系架构、新型区块链编程体系与执行架构、链链互联理论体系，探索区块链理论与物联网、机器学习、量子计算等技术的深度融合创新，研发多维度深层形式化验证理论、区块链运行状态和节点的态势感知、安全大数据融合技术，研发操作系统加固技术，重点突破跨链互通、链上链下协同、智能合约监管等技术，形式化验证技术和工具集、基于生物特征的密钥管理技术。",
        industries=["blockchain"],
        district_adcodes=[],
        source="专栏 4, lines 1083-1093",
        source_other=None,
        point=None,
        location_method="the plan names neither host nor site; none is publicly established",
    ),
    dict(
        id="platform-digital-design-manufacturing-lab",
        platform_type="laboratory",
        name_zh="数字化设计与制造实验室",
        name_en="Digital Design and Manufacturing Laboratory",
        description_zh="聚焦国家重大战略和高质量发展过程中先进制造领域的重大科学技术问题，面向新能源汽车、石化能源、先进制造等领域的先进材料及其创新产品的数字化设计和智能化制造需求，围绕大型智能半固态双重挤压、碳纤维复合材料车身部件模压等新能源汽车轻量化制造，燃气轮机高温叶片、精密模具等装备关键材料与加工制造，超大复杂曲面精密研抛、柔顺研抛等精密核心零部件制造等“卡脖子”技术问题，以“数字孪生系统”为核心，大数据为纽带，开展全球绿色数字化设计与制造理论和方法、关键技术装备创新应用研究。",
        industries=["advanced-manufacturing", "intelligent-manufacturing", "new-energy-vehicles", "high-end-moulds"],
        district_adcodes=[],
        source="专栏 4, lines 1095-1109",
        source_other="三（一）, lines 1014-1016 (数字化设计 among the fields of new municipal laboratories)",
        point=None,
        location_method="the plan names neither host nor site; none is publicly established",
    ),
    dict(
        id="platform-drug-design-lab",
        platform_type="laboratory",
        name_zh="药物设计与创制实验室",
        name_en="Drug Design and Creation Laboratory",
        description_zh="聚焦新药研发重大科学技术问题，以PROTAC为代表的新型小分子药物、抗体药物和RNA药物等的设计与创制为目标，围绕药物新靶点的发现与结构表征、新药分子的设计与制造、新型药物递送系统的开发等一系列关键问题，集成运用生命科学、化学、信息科学和大数据等多学科交叉手段，在重大传染性疾病、心脑血管疾病和肿瘤等领域开展基础研究、应用基础研究和关键核心技术攻关，发掘疾病新靶点、解析靶点结构、设计制造新型药物分子、药物重定位、创制新型药物递送系统，提升创新药物的开发效率。",
        industries=["biomedicine"],
        district_adcodes=[],
        source="专栏 4, lines 1111-1125",
        source_other=None,
        point=None,
        location_method="the plan names neither host nor site; none is publicly established",
    ),
    dict(
        id="platform-precision-measurement-lab",
        platform_type="laboratory",
        name_zh="精准测量与分析实验室",
        name_en="Precision Measurement and Analysis Laboratory",
        description_zh="围绕建设世界一流的质谱技术及其应用研究基地，以解决质谱技术相关科学和技术问题为基点，面向质谱仪技术研发、成果应用和产业转化的全链条发展体系，聚焦先进质谱仪器研制和方法开发、质谱技术在临床诊断与生命科学研究、质谱学基础理论与关键技术研究等研究方向，开展热点领域应用的质谱仪器研发，为仪器仪表、现代检测等行业发展提供持续创新动能。",
        industries=["scientific-instruments"],
        district_adcodes=[],
        source="专栏 4, lines 1127-1136",
        source_other=None,
        point=None,
        location_method="the plan names neither host nor site; none is publicly established",
    ),
    # ---- 专栏 5 major science facilities ---------------------------------------------------
    dict(
        id="platform-extreme-conditions-materials-facility",
        platform_type="science-facility",
        name_zh="极端条件材料综合研究装置",
        name_en="Comprehensive Research Facility for Materials under Extreme Conditions",
        description_zh="建设高低温、高应力、高真空、强电磁场和强腐蚀等极端条件多因素耦合、全谱型材料研究综合装置，研究材料的制备、组成以及极端条件下服役过程中材料的结构、成分、性能等演化规律，为材料科学提供国际领先的研究环境。",
        industries=["new-materials"],
        district_adcodes=[],
        source="专栏 5, lines 1140-1146",
        source_other="一（三）, line 306; 三（一）, lines 1026-1030",
        point=None,
        location_method=f"planned facility; {NULL_NO_SITE}",
    ),
    dict(
        id="platform-functional-materials-micro-nano-platform",
        platform_type="science-facility",
        name_zh="功能材料与微纳器件制备平台",
        name_en="Functional Materials and Micro/Nano Device Fabrication Platform",
        description_zh="开展微纳尺度的器件和材料加工及测试，涵盖图形发生、薄膜制备、材料刻蚀、键合封装、表征测试等常见的工艺段，形成微流体芯片的全套加工、制作能力。具备硅基、碳基、金属、聚合物、化合物半导体、二维纳米等多种类型材料及其器件的加工、表征、测试和封装能力。",
        industries=["new-materials"],
        district_adcodes=[],
        source="专栏 5, lines 1148-1156",
        source_other="三（一）, line 1028",
        point=None,
        location_method=f"planned facility; {NULL_NO_SITE}",
    ),
    dict(
        id="platform-next-gen-hpc-facility",
        platform_type="science-facility",
        name_zh="新一代高性能计算设施",
        name_en="Next-Generation High-Performance Computing Facility",
        description_zh="聚焦先进制造与材料基因组、新药研发与蛋白质解构、信息科技与人工智能、气候变化与海洋环境等领域，发展数字孪生、边缘计算等技术，组建超算中心，建设人工智能先进算法和算力服务平台。",
        industries=["high-performance-computing", "artificial-intelligence"],
        district_adcodes=[],
        source="专栏 5, lines 1158-1164",
        source_other="三（一）, line 1030",
        point=None,
        location_method=f"planned facility; {NULL_NO_SITE}",
    ),
    dict(
        id="platform-industry-brain",
        platform_type="science-facility",
        name_zh="产业大脑",
        name_en="Industry Brain (AI computing platform)",
        description_zh="建设每秒钟可处理进行百亿次（1Eops）以上的神经网络基本运算人工智能计算平台，成为国内领先的先进智能计算中心——工业智能信息高铁站，形成全国信息高铁网络中工业智能服务的核心节点，成为支撑工业智能领域创新的重大科技基础设施。",
        industries=["artificial-intelligence", "industrial-internet"],
        district_adcodes=[],
        source="专栏 5, lines 1166-1172",
        source_other="三（一）, line 1030",
        point=None,
        location_method=f"planned facility; {NULL_NO_SITE}",
    ),
    dict(
        id="platform-ics-security-range",
        platform_type="science-facility",
        name_zh="工控安全靶场",
        name_en="Industrial Control System Security Range",
        description_zh="面向国家需求和工控安全行业、产业发展需求，以基础设施模拟和工控系统实物为核心，建设电网调度系统、油气炼化系统、轨道交通系统、城市交通信号系统、油气管道传输系统和城市供水处理系统等综合实物靶标系统，建成“攻防评一体化”靶场，提升工控系统的测试手段和安全防护手段，为工控系统的攻防核心技术研究、攻防演练、产品检验、产业发展提供环境支撑。",
        industries=["industrial-cybersecurity"],
        district_adcodes=[],
        source="专栏 5, lines 1174-1184",
        source_other=None,
        point=None,
        location_method=f"planned facility; {NULL_NO_SITE}",
    ),
    dict(
        id="platform-innovative-drug-rd-platform",
        platform_type="science-facility",
        name_zh="创新药物研发科研平台",
        name_en="Innovative Drug R&D Research Platform",
        description_zh="面向国家“蓝色药库”战略规划，围绕海洋生物资源战略储备与深加工、海洋药物生物技术、新型药物制剂技术等核心科学技术问题，布局建设海洋特色大洋药用生物资源中心、海洋生物技术药物、高端药物制剂与药用材料研发等科研平台，构建海洋特色微生物种质资源库、基因资源数据库等，建设共享开放的大型仪器技术支撑平台、成果孵化及技术转化平台等，培育发展海洋药物产业及生物医药产业。",
        industries=["marine-biomedicine", "biomedicine"],
        district_adcodes=[],
        source="专栏 5, lines 1186-1198",
        source_other=None,
        point=None,
        location_method=f"planned facility; {NULL_NO_SITE}",
    ),
    # ---- 三（二）, 专栏 6 and 专栏 8 industrial technology research institutes ------------------
    dict(
        id="platform-nimte-cas",
        platform_type="research-institute",
        name_zh="中国科学院宁波材料技术与工程研究所",
        name_en="Ningbo Institute of Materials Technology and Engineering, Chinese Academy of Sciences (NIMTE)",
        description_zh=None,
        industries=["new-materials"],
        district_adcodes=["330211"],
        source="三（二）, lines 1207-1209",
        source_other=(
            "一（三）, lines 308-310; 七（二）, lines 2369-2371 (its 慈溪生物医学工程研究所)"
        ),
        point=ZHUANGSHI,
        location_method=(
            "main campus at Zhongguan West Road / Zhuangshi Avenue (中官西路1219号), Zhuangshi, Zhenhai; "
            "from public knowledge, ±1.5 km"
        ),
    ),
    dict(
        id="platform-caos-ningbo-branch",
        platform_type="research-institute",
        name_zh="中国兵器科学研究院宁波分院",
        name_en="Ningbo Branch of China Academy of Ordnance Science",
        description_zh=None,
        industries=[],
        district_adcodes=[],
        source="三（二）, line 1209",
        source_other="一（三）, line 310",
        point=None,
        location_method="the plan names no site; its Ningbo address could not be confirmed, so no point",
    ),
    dict(
        id="platform-beihang-ningbo-institute",
        platform_type="research-institute",
        name_zh="北京航空航天大学宁波创新研究院",
        name_en="Ningbo Institute of Technology, Beihang University",
        description_zh=None,
        industries=[],
        district_adcodes=[],
        source="三（二）, line 1211",
        source_other=(
            "专栏 6, lines 1240-1242 (written there as 北京航空航天大学宁波研究院); "
            "八（四）, lines 2535-2537 (北京航空航天大学 as a partner university)"
        ),
        point=None,
        location_method="the plan names no site; its Ningbo address could not be confirmed, so no point",
    ),
    dict(
        id="platform-ningbo-industrial-internet-institute",
        platform_type="research-institute",
        name_zh="宁波工业互联网研究院",
        name_en="Ningbo Industrial Internet Institute",
        description_zh=None,
        industries=["industrial-internet"],
        district_adcodes=[],
        source="三（二）, lines 1211-1213",
        source_other="专栏 6, line 1240; perhaps also 一（三）, line 218 (工业互联网研究院)",
        point=None,
        location_method="the plan names no site; its Ningbo address could not be confirmed, so no point",
    ),
    dict(
        id="platform-pku-ningbo-marine-drug-institute",
        platform_type="research-institute",
        name_zh="北京大学宁波海洋药物研究院",
        name_en="Ningbo Institute of Marine Medicine, Peking University",
        description_zh=None,
        industries=["marine-biomedicine", "biomedicine"],
        district_adcodes=[],
        source="专栏 6, line 1238",
        source_other=None,
        point=None,
        location_method="the plan names no site; its Ningbo address could not be confirmed, so no point",
    ),
    dict(
        id="platform-tju-zhejiang-institute",
        platform_type="research-institute",
        name_zh="天津大学浙江研究院",
        name_en="Zhejiang Institute of Tianjin University",
        description_zh=None,
        industries=[],
        district_adcodes=["330211"],
        source="专栏 6, lines 1238-1240",
        source_other=None,
        point=None,
        location_method=(
            "in Zhenhai (Zhenhai district government lists it among Zhenhai's research platforms); "
            "exact site not confirmed, so no point"
        ),
    ),
    dict(
        id="platform-north-materials-institute",
        platform_type="research-institute",
        name_zh="北方材料科学与工程研究院",
        name_en="North Institute of Materials Science and Engineering",
        description_zh=None,
        industries=["new-materials"],
        district_adcodes=[],
        source="专栏 8, line 1419",
        source_other=None,
        point=None,
        location_method=(
            "the plan places it only in the national high-tech zone's sphere (专栏 8); "
            "exact site not confirmed, so no point"
        ),
    ),
    dict(
        id="platform-nwpu-ningbo-institute",
        platform_type="research-institute",
        name_zh="西北工业大学宁波研究院",
        name_en="Ningbo Institute of Northwestern Polytechnical University",
        description_zh=None,
        industries=[],
        district_adcodes=[],
        source="专栏 8, lines 1419-1421",
        source_other="八（四）, lines 2535-2537 (西北工业大学 as a partner university)",
        point=None,
        location_method=(
            "the plan places it only in the national high-tech zone's sphere (专栏 8); "
            "exact site not confirmed, so no point"
        ),
    ),
    dict(
        id="platform-nottingham-beacons-institute",
        platform_type="research-institute",
        name_zh="诺丁汉大学卓越灯塔计划（宁波）创新研究院",
        name_en="Nottingham Ningbo China Beacons of Excellence Research and Innovation Institute",
        description_zh=None,
        industries=[],
        district_adcodes=[],
        source="专栏 8, line 1421",
        source_other=None,
        point=None,
        location_method=(
            "the plan places it only in the national high-tech zone's sphere (专栏 8); "
            "exact site not confirmed, so no point"
        ),
    ),
    # ---- innovation centres: 专栏 8 and the 专栏 7 tiers -------------------------------------
    dict(
        id="platform-donghai-green-petrochem-tic",
        platform_type="innovation-centre",
        name_zh="东海绿色石化技术创新中心",
        name_en="Donghai Green Petrochemical Technology Innovation Centre",
        description_zh=None,
        industries=["green-petrochemicals"],
        district_adcodes=[],
        source="专栏 8, line 1423",
        source_other=None,
        point=None,
        location_method=f"to be built; {NULL_NO_SITE}",
    ),
    dict(
        id="platform-national-tic",
        platform_type="innovation-centre",
        name_zh="国家技术创新中心",
        name_en="National Technology Innovation Centre (tier to be sought; no named centre)",
        description_zh="围绕国家重大创新需求和长三角一体化发展战略，推动有优势、有条件的科研力量参与，争取长三角综合类国家技术创新中心在宁波布点，打造具有全球影响力的技术创新中心。面向国家长远发展、影响产业安全、参与全球竞争的细分关键技术领域，发挥宁波在新材料、工业互联网、关键核心基础件三大科创高地技术创新优势，集聚整合科研力量和创新资源，在绿色石化、工业操作系统、新一代汽车等领域布局建设技术创新中心，争创国家技术创新中心。",
        industries=["new-materials", "industrial-internet", "key-components", "green-petrochemicals", "automotive"],
        district_adcodes=[],
        source="专栏 7, lines 1336-1350",
        source_other="三（四）, lines 1309-1312 and 1329-1330; 四（四）, lines 1980-1982",
        point=None,
        location_method="a tier of centres the plan aims for, named by field only; it names no site",
    ),
    dict(
        id="platform-provincial-tic",
        platform_type="innovation-centre",
        name_zh="省级技术创新中心",
        name_en="Provincial Technology Innovation Centres (tier, 2-3 planned; no named centre)",
        description_zh="围绕全省重大创新发展战略，面向关系全省长远发展、影响产业安全、参与国内外竞争的关键技术领域，主动融入浙江省技术创新中心体系，在高端装备、智能制造等领域布局建设技术创新中心，争取建成省级技术创新中心2-3家。",
        industries=["high-end-equipment", "intelligent-manufacturing"],
        district_adcodes=[],
        source="专栏 7, lines 1352-1358",
        source_other="三（四）, lines 1313-1316 and 1331",
        point=None,
        location_method="a tier of centres the plan aims for, named by field only; it names no site",
    ),
    dict(
        id="platform-municipal-tic",
        platform_type="innovation-centre",
        name_zh="市级技术创新中心",
        name_en="Municipal Technology Innovation Centres (tier, 10+ planned; no named centre)",
        description_zh="围绕宁波三大科创高地建设，面向十大核心产业链，依托创新能力突出的企业和高校院所，整合产业链上下游有优势、有条件的创新资源，在新材料、工业互联网、关键核心基础件、空天深海技术、氢能技术、生物育种等领域主动布局建设10个以上市级技术创新中心，打造行业关键核心技术攻关、重大创新成果熟化产业化、科技型中小企业孵化培育、高层次人才集聚的一流科技创新平台。",
        industries=["new-materials", "industrial-internet", "key-components", "aerospace"],
        district_adcodes=[],
        source="专栏 7, lines 1360-1372",
        source_other="三（四）, lines 1317-1320 and 1331-1333",
        point=None,
        location_method="a tier of centres the plan aims for, named by field only; it names no site",
    ),
    # ---- universities ------------------------------------------------------------------------
    dict(
        id="platform-ningbo-university",
        platform_type="university",
        name_zh="宁波大学",
        name_en="Ningbo University",
        description_zh="加快推进宁波大学“双一流”学科高校建设，做强海洋生物技术及海洋工程、数字经济、新材料、生物医药等学科，发展成为特色鲜明的综合性研究型大学。",
        industries=["new-materials", "biomedicine"],
        district_adcodes=["330205"],
        source="三（三）, lines 1274-1280",
        source_other="一（三）, line 312",
        point=(121.62600, 29.91200),
        location_method=(
            "main campus, 818 Fenghua Road, Jiangbei, in the strip between the Yongjiang and the "
            "Zhenhai line (its north campus lies across that line in Zhenhai); from public knowledge, ±1 km"
        ),
    ),
    dict(
        id="platform-ucas-ningbo-materials-college",
        platform_type="university",
        name_zh="中国科学院大学宁波材料工程学院",
        name_en="Ningbo College of Materials Engineering, University of Chinese Academy of Sciences",
        description_zh=None,
        industries=["new-materials"],
        district_adcodes=["330211"],
        source="三（三）, line 1280",
        source_other=None,
        point=ZHUANGSHI,
        location_method=(
            "run by NIMTE and built beside it in Zhenhai New Materials Town, Zhuangshi; "
            "placed at the NIMTE anchor, from public knowledge, ±2 km"
        ),
    ),
    dict(
        id="platform-zhejiang-wanli-university",
        platform_type="university",
        name_zh="浙江万里学院",
        name_en="Zhejiang Wanli University",
        description_zh=None,
        industries=[],
        district_adcodes=["330212"],
        source="三（三）, lines 1282-1284",
        source_other=None,
        point=(121.56730, 29.81900),
        location_method=(
            "main campus, 8 South Qianhu Road, Yinzhou Higher Education Zone; "
            "coordinates as published for the campus (Wikipedia), ±1 km"
        ),
    ),
    dict(
        id="platform-ningbotech-university",
        platform_type="university",
        name_zh="浙大宁波理工学院",
        name_en="NingboTech University",
        description_zh=None,
        industries=[],
        district_adcodes=["330212"],
        source="三（三）, lines 1282-1284",
        source_other=None,
        point=(121.56730, 29.81900),
        location_method=(
            "main campus, 1 South Qianhu Road, Yinzhou Higher Education Zone, across the road from "
            "Zhejiang Wanli University; placed at the Wanli point, from public knowledge, ±1.5 km"
        ),
    ),
    dict(
        id="platform-ningbo-university-of-technology",
        platform_type="university",
        name_zh="宁波工程学院",
        name_en="Ningbo University of Technology",
        description_zh=None,
        industries=[],
        district_adcodes=["330205", "330203"],
        source="三（三）, lines 1282-1284",
        source_other="专栏 9, lines 1619-1621 and 专栏 11, lines 1838-1839 (its 翠柏校区 in Haishu)",
        point=None,
        location_method=(
            "several campuses (headquarters on Fenghua Road, Jiangbei; Cuibai campus, Haishu, named in "
            "the plan); no single campus position confirmed to 2 km, so no point"
        ),
    ),
    dict(
        id="platform-ningbo-university-finance-economics",
        platform_type="university",
        name_zh="宁波财经学院",
        name_en="Ningbo University of Finance & Economics",
        description_zh=None,
        industries=[],
        district_adcodes=[],
        source="三（三）, lines 1282-1284",
        source_other=None,
        point=None,
        location_method="main campus (Xuefu Road) position and district not confirmed, so no point",
    ),
    dict(
        id="platform-unnc",
        platform_type="university",
        name_zh="宁波诺丁汉大学",
        name_en="University of Nottingham Ningbo China",
        description_zh=None,
        industries=[],
        district_adcodes=["330212"],
        source="三（三）, line 1286",
        source_other=None,
        point=(121.55920, 29.80220),
        location_method=(
            "campus, 199 Taikang East Road, Yinzhou; coordinates as published for the campus "
            "(Wikipedia), ±1 km"
        ),
    ),
    dict(
        id="platform-ningbo-polytechnic",
        platform_type="university",
        name_zh="宁波职业技术学院",
        name_en="Ningbo Polytechnic",
        description_zh=None,
        industries=[],
        district_adcodes=["330206"],
        source="三（三）, line 1290",
        source_other=None,
        point=None,
        location_method="main campus is in Beilun (Xinqi); its position was not confirmed to 2 km, so no point",
    ),
    dict(
        id="platform-dongqianhu-international-university",
        platform_type="university",
        name_zh="东钱湖国际合作大学",
        name_en="Dongqian Lake International Cooperative University (planned; no official English name)",
        description_zh="加快推进东钱湖国际合作大学谋划，集聚世界一流的学科专家和人才团队。",
        industries=[],
        district_adcodes=["330212"],
        source="专栏 10, lines 1789-1791",
        source_other="三（三）, lines 1286-1288 (布局建设 2 所新型高水平大学, unnamed)",
        point=None,
        location_method=(
            "planned in Meihu Town (梅湖小镇), Dongqian Lake, Yinzhou; the plan names no campus site"
        ),
    ),
]

# ---- named in the text outside 专栏 4–8 (no site is publicly established for any: null geometry) ----
_OUTSIDE = "named outside 专栏 4–8; " + NULL_NO_SITE
PLATFORMS += [
    dict(id="platform-smart-manufacturing-institute", platform_type="research-institute", name_zh="智能制造研究院",
         name_en="Intelligent Manufacturing Research Institute", description_zh=None,
         industries=["intelligent-manufacturing"], district_adcodes=[], source="一（三）, lines 218-220",
         source_other=None, point=None, location_method=_OUTSIDE),
    dict(id="platform-industrial-internet-tic", platform_type="innovation-centre", name_zh="工业互联网技术创新中心",
         name_en="Industrial Internet Technology Innovation Centre", description_zh=None,
         industries=["industrial-internet"], district_adcodes=[], source="一（三）, lines 218-220",
         source_other=None, point=None, location_method=_OUTSIDE),
    dict(id="platform-kunpeng-ecosystem-centre", platform_type="innovation-centre", name_zh="鲲鹏生态创新中心",
         name_en="Kunpeng Ecosystem Innovation Centre", description_zh=None,
         industries=["industry-software", "industrial-internet"], district_adcodes=[],
         source="专栏 10, lines 1728-1730", source_other=None, point=None,
         location_method="named for 宁波软件园 (专栏 10); " + NULL_NO_SITE),
    dict(id="platform-zhejiang-industrial-tech-institute", platform_type="research-institute",
         name_zh="浙江工业技术研究院", name_en="Zhejiang Institute of Industrial Technology", description_zh=None,
         industries=["industry-software", "industrial-internet"], district_adcodes=[],
         source="专栏 10, lines 1728-1730", source_other=None, point=None,
         location_method="named for 宁波软件园 (专栏 10); " + NULL_NO_SITE),
    dict(id="platform-new-materials-joint-institute", platform_type="research-institute",
         name_zh="新材料联合研究院", name_en="New Materials Joint Research Institute", description_zh=None,
         industries=["new-materials"], district_adcodes=[], source="专栏 10, lines 1738-1740", source_other=None,
         point=None, location_method="named for 宁波新兴产业创新综合体 (专栏 10); " + NULL_NO_SITE),
    dict(id="platform-sino-canadian-low-carbon-institute", platform_type="research-institute",
         name_zh="中加低碳研究院", name_en="Sino-Canadian Low Carbon Research Institute", description_zh=None,
         industries=["low-carbon"], district_adcodes=["330226"], source="专栏 11, lines 1931-1935",
         source_other=None, point=None,
         location_method="one of the 两院 of 兴海路双创走廊 in 宁海县 (专栏 11); " + NULL_NO_SITE),
    dict(id="platform-marine-bio-breeding-institute", platform_type="research-institute",
         name_zh="海洋生物种业研究院", name_en="Marine Biological Breeding Research Institute", description_zh=None,
         industries=["marine-bio-breeding"], district_adcodes=["330226"], source="专栏 11, lines 1931-1935",
         source_other=None, point=None,
         location_method="one of the 两院 of 兴海路双创走廊 in 宁海县 (专栏 11); " + NULL_NO_SITE),
    dict(id="platform-ukraine-academy-ningbo-centre", platform_type="innovation-centre",
         name_zh="乌克兰工程院宁波创新中心", name_en="Ningbo Innovation Centre of the Engineering Academy of Ukraine",
         description_zh=None, industries=["high-end-equipment"], district_adcodes=["330206"],
         source="专栏 11, lines 1869-1870", source_other=None, point=None,
         location_method="to move into 北仑高端装备海外工程师协同创新中心 in 北仑区 (专栏 11); " + NULL_NO_SITE),
    dict(id="platform-cixi-biomedical-engineering-institute", platform_type="research-institute",
         name_zh="中国科学院宁波材料技术与工程研究所慈溪生物医学工程研究所",
         name_en="Cixi Institute of Biomedical Engineering, NIMTE (CAS)", description_zh=None,
         industries=["biomedicine", "smart-medical-devices"], district_adcodes=[], source="七（二）, lines 2369-2373",
         source_other=None, point=None, location_method=_OUTSIDE),
    dict(id="platform-nbu-new-drug-institute", platform_type="research-institute", name_zh="宁波大学新药研究院",
         name_en="Ningbo University Institute of Drug Discovery", description_zh=None, industries=["biomedicine"],
         district_adcodes=[], source="七（二）, lines 2369-2373", source_other=None, point=None,
         location_method=_OUTSIDE),
    dict(id="platform-high-level-pathogen-lab", platform_type="laboratory", name_zh="高等级病原微生物实验室",
         name_en="High-containment pathogenic microorganism laboratory", description_zh=None,
         industries=["life-health"], district_adcodes=[], source="七（二）, lines 2373-2375", source_other=None,
         point=None, location_method="a laboratory to be built; " + NULL_NO_SITE),
]

# What the plan says of each platform's state: planned (谋划, 布局, 争创), under construction (加快建设,
# 加快推进…建设), operating (存量, 获批, 提升发展, an existing university), or unknown where it only lists it.
# (status, the plan's words, their lines)
STATUS: dict[str, tuple[str, str | None, str | None]] = {
    "platform-yongjiang-lab": ("under-construction", "加快建设甬江实验室", "三（一）, lines 1005-1005"),
    "platform-agri-product-safety-skl": ("operating", "成功获批", "一（一）, lines 39-41"),
    "platform-marine-materials-key-lab": ("under-construction", "加快建设海洋新材料与应用重点实验室",
                                          "三（一）, lines 1012-1012"),
    "platform-blockchain-key-lab": ("unknown", None, None),
    "platform-digital-design-manufacturing-lab": ("planned", "布局建设市实验室", "三（一）, lines 1014-1016"),
    "platform-drug-design-lab": ("planned", "布局建设市实验室", "三（一）, lines 1014-1016"),
    "platform-precision-measurement-lab": ("planned", "布局建设市实验室", "三（一）, lines 1014-1016"),
    "platform-extreme-conditions-materials-facility": ("planned", "谋划建设极端条件材料综合研究装置",
                                                       "三（一）, lines 1026-1028"),
    "platform-functional-materials-micro-nano-platform": ("planned", "谋划建设", "三（一）, lines 1026-1030"),
    "platform-next-gen-hpc-facility": ("planned", "谋划建设", "三（一）, lines 1026-1030"),
    "platform-industry-brain": ("planned", "谋划建设", "三（一）, lines 1026-1030"),
    "platform-ics-security-range": ("under-construction", "工控安全靶场等科技基础设施（装置）建设",
                                    "专栏 12, lines 2021-2023"),
    "platform-innovative-drug-rd-platform": ("unknown", None, None),
    "platform-nimte-cas": ("operating", "存量研究院", "三（二）, lines 1207-1211"),
    "platform-caos-ningbo-branch": ("operating", "存量研究院", "三（二）, lines 1207-1211"),
    "platform-beihang-ningbo-institute": ("under-construction", "引进研究院建设", "三（二）, lines 1211-1213"),
    "platform-ningbo-industrial-internet-institute": ("under-construction", "引进研究院建设",
                                                      "三（二）, lines 1211-1213"),
    "platform-pku-ningbo-marine-drug-institute": ("operating", "做大做强存量研究院", "专栏 6, lines 1238-1238"),
    "platform-tju-zhejiang-institute": ("operating", "做大做强存量研究院", "专栏 6, lines 1238-1238"),
    "platform-north-materials-institute": ("operating", "提升发展", "专栏 8, lines 1419-1423"),
    "platform-nwpu-ningbo-institute": ("operating", "提升发展", "专栏 8, lines 1419-1423"),
    "platform-nottingham-beacons-institute": ("operating", "提升发展", "专栏 8, lines 1419-1423"),
    "platform-donghai-green-petrochem-tic": ("under-construction", "加快建设东海绿色石化技术创新中心",
                                             "专栏 8, lines 1423-1423"),
    "platform-national-tic": ("planned", "争创国家技术创新中心", "三（四）, lines 1329-1331"),
    "platform-provincial-tic": ("planned", "力争建成省级技术创新中心", "三（四）, lines 1331-1331"),
    "platform-municipal-tic": ("planned", "布局建设市级技术创新中心", "三（四）, lines 1317-1319"),
    "platform-ningbo-university": ("operating", "加快推进宁波大学“双一流”学科高校建设", "三（三）, lines 1274-1276"),
    "platform-ucas-ningbo-materials-college": ("under-construction", "加速推进中国科学院大学宁波材料工程学院建设",
                                               "三（三）, lines 1280-1280"),
    "platform-zhejiang-wanli-university": ("operating", "等高校加快生物技术、绿色化工等特色学科建设",
                                           "三（三）, lines 1282-1284"),
    "platform-ningbotech-university": ("operating", "等高校加快生物技术、绿色化工等特色学科建设",
                                       "三（三）, lines 1282-1284"),
    "platform-ningbo-university-of-technology": ("operating", "等高校加快生物技术、绿色化工等特色学科建设",
                                                 "三（三）, lines 1282-1284"),
    "platform-ningbo-university-finance-economics": ("operating", "等高校加快生物技术、绿色化工等特色学科建设",
                                                     "三（三）, lines 1282-1284"),
    "platform-unnc": ("operating", "等中外合作高校发展", "三（三）, lines 1286-1286"),
    "platform-ningbo-polytechnic": ("operating", "打造全国“双高”学校", "三（三）, lines 1290-1290"),
    "platform-dongqianhu-international-university": ("planned", "加快推进东钱湖国际合作大学谋划",
                                                     "专栏 10, lines 1789-1791"),
    "platform-smart-manufacturing-institute": ("under-construction", "加快建设工业互联网研究院、智能制造研究院",
                                               "一（三）, lines 218-220"),
    "platform-industrial-internet-tic": ("under-construction", "工业互联网技术创新中心等创新平台",
                                         "一（三）, lines 218-220"),
    "platform-kunpeng-ecosystem-centre": ("under-construction", "加快鲲鹏生态创新中心、浙江工业技术研究院等平台建设",
                                          "专栏 10, lines 1728-1730"),
    "platform-zhejiang-industrial-tech-institute": ("under-construction",
                                                    "加快鲲鹏生态创新中心、浙江工业技术研究院等平台建设",
                                                    "专栏 10, lines 1728-1730"),
    "platform-new-materials-joint-institute": ("planned", "布局建设新材料联合研究院", "专栏 10, lines 1738-1740"),
    "platform-sino-canadian-low-carbon-institute": ("unknown", None, None),
    "platform-marine-bio-breeding-institute": ("unknown", None, None),
    "platform-ukraine-academy-ningbo-centre": ("unknown", None, None),
    "platform-cixi-biomedical-engineering-institute": ("under-construction", "等新型研发机构建设",
                                                       "七（二）, lines 2369-2373"),
    "platform-nbu-new-drug-institute": ("under-construction", "等新型研发机构建设", "七（二）, lines 2369-2373"),
    "platform-high-level-pathogen-lab": ("planned", "推动百万级人群标本库、高等级病原微生物实验室等建设",
                                         "七（二）, lines 2373-2375"),
}
STATUSES = ("planned", "under-construction", "operating", "unknown")

KEYS = (
    "id", "kind", "platform_type", "name_zh", "name_en", "description_zh", "industries",
    "district_adcodes", "district_names_zh", "source", "source_other", "location_quality",
    "location_method", "status", "status_zh", "status_source",
)


def _plan_lines() -> list[str]:
    return PLAN.read_text(encoding="utf-8").split("\n")


def _is_page_number(line: str) -> bool:
    return re.fullmatch(r"\s*-\s*\d+\s*-\s*", line) is not None


def _cited_text(lines: list[str], source: str) -> str:
    m = re.search(r"lines? (\d+)(?:-(\d+))?$", source)
    if not m:
        raise ValueError(f"source without a line range: {source!r}")
    a, b = int(m.group(1)), int(m.group(2) or m.group(1))
    return "".join(re.sub(r"\s", "", ln) for ln in lines[a - 1:b] if not _is_page_number(ln))


def _feature(p: dict) -> dict:
    point = p["point"]
    props = {
        "id": p["id"],
        "kind": "platform",
        "platform_type": p["platform_type"],
        "name_zh": p["name_zh"],
        "name_en": p["name_en"],
        "description_zh": p["description_zh"],
        "industries": list(p["industries"]),
        "district_adcodes": list(p["district_adcodes"]),
        "district_names_zh": [DISTRICTS[a] for a in p["district_adcodes"]],
        "source": p["source"],
        "source_other": p["source_other"],
        "location_quality": "approximate" if point else "unknown",
        "location_method": p["location_method"],
        "status": STATUS[p["id"]][0],
        "status_zh": STATUS[p["id"]][1],
        "status_source": STATUS[p["id"]][2],
    }
    assert tuple(props) == KEYS
    geometry = None
    if point:
        geometry = {"type": "Point", "coordinates": [round(point[0], 5), round(point[1], 5)]}
    return {"type": "Feature", "id": p["id"], "properties": props, "geometry": geometry}


def _check(features: list[dict]) -> list[tuple]:
    lines = _plan_lines()
    codes = {i["code"] for i in json.loads(INDUSTRIES_FILE.read_text(encoding="utf-8"))["industries"]}
    polys = {f["properties"]["adcode"]: shape(f["geometry"]) for f in _DISTRICT_FEATURES}
    ids = [f["id"] for f in features]
    if len(ids) != len(set(ids)):
        raise SystemExit("duplicate ids")
    names = [f["properties"]["name_zh"] for f in features]
    if len(names) != len(set(names)):
        raise SystemExit("duplicate name_zh")
    rows = []
    for f in features:
        p = f["properties"]
        if not re.fullmatch(r"platform-[a-z0-9]+(-[a-z0-9]+)*", p["id"]):
            raise SystemExit(f"bad id {p['id']}")
        if p["platform_type"] not in PLATFORM_TYPES:
            raise SystemExit(f"{p['id']}: bad platform_type")
        bad = set(p["industries"]) - codes
        if bad:
            raise SystemExit(f"{p['id']}: unknown industry codes {sorted(bad)}")
        cited = _cited_text(lines, p["source"])
        if re.sub(r"\s", "", p["name_zh"]) not in cited:
            raise SystemExit(f"{p['id']}: name_zh not in cited lines {p['source']}")
        if p["description_zh"] is not None and re.sub(r"\s", "", p["description_zh"]) not in cited:
            raise SystemExit(f"{p['id']}: description_zh not verbatim in {p['source']}")
        status, status_zh, status_source = STATUS[p["id"]]
        if status not in STATUSES or (status_zh is None) != (status == "unknown"):
            raise SystemExit(f"{p['id']}: status {status!r} needs the plan's words unless unknown")
        if status_zh and re.sub(r"\s", "", status_zh) not in _cited_text(lines, status_source or ""):
            raise SystemExit(f"{p['id']}: status_zh not verbatim in {status_source}")
        ok = "-"
        if f["geometry"] is not None:
            pt = Point(f["geometry"]["coordinates"])
            if not p["district_adcodes"]:
                raise SystemExit(f"{p['id']}: point without a district")
            if not polys[p["district_adcodes"][0]].contains(pt):
                raise SystemExit(f"{p['id']}: point not inside {p['district_names_zh'][0]}")
            ok = "OK"
        rows.append((p["id"], p["platform_type"], "yes" if f["geometry"] else "no", ok))
    return rows


def main(out: Path = OUT) -> None:
    features = [_feature(p) for p in PLATFORMS]
    rows = _check(features)
    write_geojson_atomic(out, {"type": "FeatureCollection", "name": "platforms", "features": features})
    w = max(len(r[0]) for r in rows)
    print(f"{'id':<{w}}  {'type':<18}  point  district")
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:<18}  {r[2]:<5}  {r[3]}")
    counts: dict[str, list[int]] = {}
    for f in features:
        c = counts.setdefault(f["properties"]["platform_type"], [0, 0])
        c[0] += 1
        c[1] += f["geometry"] is not None
    for t in PLATFORM_TYPES:
        n, pts = counts.get(t, [0, 0])
        print(f"{t}: {n} features, {pts} with a point")
    print(f"total: {len(features)} features")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
