"""Whether the environment solves: facts, explanations, rules and summaries."""
