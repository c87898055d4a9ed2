"""Each hub's no-show policy and the clock that applies it: reminder, hold, then no-show."""
