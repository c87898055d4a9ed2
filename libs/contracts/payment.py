"""Events the payment service publishes."""

from __future__ import annotations
