"""Catalog: shops, products, stock and reservations, categories, search."""
