"""Product photos: what an upload must be, where photos are kept, and their API and pages."""
