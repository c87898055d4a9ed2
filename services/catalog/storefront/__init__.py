"""The catalogue as residents see it: French full-text search and the public hub and shop pages."""
