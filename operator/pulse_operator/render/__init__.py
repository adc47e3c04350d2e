"""Pure renderers: a resource's spec in, the complete desired children out (plain dicts)."""
