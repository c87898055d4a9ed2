"""Order: baskets, checkout, orders and their per-shop parts, the order saga."""
