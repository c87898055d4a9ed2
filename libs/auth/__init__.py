"""Who is asking: access tokens signed by the accounts service, verified locally by every service."""
