"""SLA Timer: business-hours SLA clocks for helpdesk ticket events."""
