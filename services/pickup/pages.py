"""The pickup service's pages share one template folder (services/pickup/templates, each
feature's files under its prefix: desk*, schedule_*, gathering_*, no_show_*...)."""

from __future__ import annotations

from libs.kit.pages import templates_for

templates = templates_for(__file__)
