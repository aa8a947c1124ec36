"""The central FastAPI service: registry, rule sets, roles and audit (see DESIGN.md §2 and §8)."""
