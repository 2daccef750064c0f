"""The web service: OGC API - Features and the plan-aware queries, wired onto `geo` (see services.app)."""
