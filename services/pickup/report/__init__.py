"""The funders' report of a hub: sales per shop and per month, buyers, members, gatherings and
visits to the town centre, as figures, SVG charts and CSV."""
