"""Opening hours, exceptions, lead time, and the collection slots made from them or for gatherings."""
