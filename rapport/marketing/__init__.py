"""Marketing automation: storefront events, segments, e-mail campaigns and journeys."""
