"""conda specs, channels, selectors, drift and the domain rules."""
