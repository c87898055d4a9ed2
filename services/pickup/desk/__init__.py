"""The hub's desk: shelves, search, the pickup code as a QR code, no-shows recorded by hand."""
