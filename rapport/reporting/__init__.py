"""Reports and dashboards over every registered object type, drilling down to the records."""
