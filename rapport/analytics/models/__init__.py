"""Analytics models, one module per family of metrics."""
