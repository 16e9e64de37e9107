"""Editor features over an analysis: completion, hover, cursor queries, symbols."""
