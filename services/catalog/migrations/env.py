"""Alembic environment of the catalog service (see libs/kit/migrations.py)."""

from libs.kit.migrations import run_environment
from services.catalog.bootstrap import SERVICE, SERVICE_SETTINGS

# The full-text index the initial revision makes by hand (services/catalog/tables.py):
# SQLite's FTS5 table and its shadow tables, PostgreSQL's generated column and its index; and the
# public pages' generations, kept by triggers (revision 0003).
HAND_MADE = ("catalogue_entries_fts", "document", "catalogue_entries_document",
             "storefront_generations")

run_environment(SERVICE.metadata, lambda: SERVICE_SETTINGS().database_url_for(SERVICE.name),
                HAND_MADE)
