"""Notification: tells residents and shops what happened to their orders and gatherings, by
e-mail (SMTP) and, for residents who opted in, by SMS; in French or English."""
