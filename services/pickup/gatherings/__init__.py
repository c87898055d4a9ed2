"""A hub's gatherings (« animations » on the pages): its public calendar, sign-ups, the ICS feed
and the attendance staff record."""
