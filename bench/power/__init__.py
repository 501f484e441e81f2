"""Bug-finding power: detection times, false alarms, the self-test."""
