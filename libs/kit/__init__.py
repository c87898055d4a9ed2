"""What every service is built on: settings, database, app, health, metrics, logs, errors."""
