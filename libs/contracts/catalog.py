"""Events the catalog service publishes."""

from __future__ import annotations
