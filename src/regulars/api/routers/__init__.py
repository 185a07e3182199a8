"""One router per domain; each only maps HTTP to a service call."""
