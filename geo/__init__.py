"""The data model of Ningbo's innovation layout: everything spatial, nothing of the web.

Public API (used by the CLI, and by the service and maps that build on it):

- ``geo.store.base.open_store(url) -> FeatureStore``: where the layers live (an embedded GeoPackage or
  PostGIS); ``init`` seeds it from the data folder, ``snapshot()`` reads every layer at one dataset version,
  ``watch`` reports new versions. ``geo.layers.build_layers(snapshot.features, data_dir)`` makes the Layers.
- ``geo.layers.load_layers(data_dir) -> Layers``: every layer straight from the seed files, as GeoDataFrames in
  WGS 84 lon/lat with a computed geodesic ``area_km2``; ``Layers.kind(name)`` selects one kind
  (see ``geo.schema.KINDS`` for the kinds and their collection ids), ``Layers.taxonomy`` resolves
  industry codes and their narrower terms, ``Layers.indicators`` holds 表 1 and the 2025 targets,
  ``Layers.observations`` their observed values, ``Layers.land`` the GSHHS land and 东钱湖.
- ``geo.monitoring``: observations beside targets, and progress toward them.
- ``geo.validate.validate(data_dir) -> Report``: the rules every layer obeys; ``Report.ok``,
  ``Report.findings`` and ``Report.text()``.
- ``geo.rules.check_feature(layers, collection_id, feature_id, properties, geometry) -> list[Finding]``: the same
  per-feature rules on one feature as a write would leave it (hard findings refuse it, soft ones are kept with
  it); ``clean_properties`` and ``writable_properties`` say what a client may send.
- ``geo.features.select(frame, queryables, FeatureQuery, taxonomy)``: the items query (bbox, property
  filters, CQL2, sortby) with the plan's rules (industry narrowing, district adcodes).
- ``geo.measure``: geodesic areas and lengths on the WGS 84 ellipsoid.
- ``geo.plan.PlanText``: the plan's text, to check that a quote stands on the lines it cites.
- ``geo.io``: JSON reading and atomic writes.
"""
