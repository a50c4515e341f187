"""Sales force automation: leads, pipelines, deals, quotes and forecasts on the customer hub."""
