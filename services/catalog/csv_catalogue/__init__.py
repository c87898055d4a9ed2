"""A shop's catalogue as a CSV file: its format, import and export, API, pages and CLI."""
