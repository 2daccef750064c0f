"""Benchmarks of this project against the tools a GIS office already knows, side by side in one run.

``python -m bench all`` runs every section and prints one table; see bench/README.md.
"""
