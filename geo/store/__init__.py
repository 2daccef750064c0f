"""Where the layers live: the seam (base), an embedded GeoPackage store (sqlite) and PostGIS (postgis)."""
