"""Events the accounts service publishes."""

from __future__ import annotations
