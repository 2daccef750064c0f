"""geo.features: the items query answered without HTTP, with the plan's rules (industry narrowing, districts)."""

from __future__ import annotations

import pytest

from geo.export import ALL, collection_frames
from geo.features import FeatureQuery, QueryError, queryables_of, select
from geo.layers import Layers


def frame_and_queryables(layers: Layers, collection: str):  # type: ignore[no-untyped-def]
    frame = collection_frames(layers, ALL)[collection]
    columns = [c for c in frame.columns if c != frame.geometry.name and frame[c].notna().any()]
    return frame, queryables_of(frame, columns)


def test_industry_codes_match_their_narrower_industries(layers: Layers) -> None:
    frame, queryables = frame_and_queryables(layers, "subparks")
    hosted = [set(codes or ()) for codes in frame["industries"]]
    # a broad code that some sub-park hosts only through a narrower one
    broad = next(code for code in layers.taxonomy.industries
                 if any(code not in h and h & layers.taxonomy.narrower(code) for h in hosted))
    narrower = layers.taxonomy.narrower(broad)
    rows = select(frame, queryables, FeatureQuery(properties=(("industries", broad),)), layers.taxonomy)
    assert list(rows) == [i for i, h in enumerate(hosted) if h & narrower]
    assert any(broad not in hosted[i] for i in rows)


def test_a_district_is_its_own_district_and_sorting_is_stable(layers: Layers) -> None:
    frame, queryables = frame_and_queryables(layers, "districts")
    assert queryables["district_adcode"].column == "adcode"
    rows = select(frame, queryables, FeatureQuery(properties=(("district_adcode", "330212"),)), layers.taxonomy)
    assert frame.iloc[rows]["name_zh"].tolist() == ["鄞州区"]
    ordered = select(frame, queryables, FeatureQuery(sortby=(("name_en", False),)), layers.taxonomy)
    names = frame.iloc[ordered]["name_en"].tolist()
    assert names == sorted(names, reverse=True) and len(names) == len(frame)


@pytest.mark.parametrize(("query", "parameter"), [
    (FeatureQuery(properties=(("industries", "no-such-code"),)), "industries"),
    (FeatureQuery(properties=(("geometry", "x"),)), "geometry"),
    (FeatureQuery(filter="name_en LIKE"), "filter"),
    (FeatureQuery(filter="x = 1", filter_lang="sql"), "filter-lang"),
    (FeatureQuery(sortby=(("no_such", True),)), "sortby"),
])
def test_bad_queries_name_the_parameter_at_fault(layers: Layers, query: FeatureQuery, parameter: str) -> None:
    frame, queryables = frame_and_queryables(layers, "subparks")
    with pytest.raises(QueryError) as caught:
        select(frame, queryables, query, layers.taxonomy)
    assert caught.value.parameter == parameter and str(caught.value).startswith(f"{parameter}: ")


def test_a_property_the_collection_lacks_matches_nothing(layers: Layers) -> None:
    frame, queryables = frame_and_queryables(layers, "districts")
    assert "industries" not in queryables
    query = FeatureQuery(properties=(("industries", "biomedicine"),))
    assert len(select(frame, queryables, query, layers.taxonomy)) == 0
