"""Events the notification service publishes: none yet. It only listens, and tells people."""
