"""Events the order service publishes."""

from __future__ import annotations
