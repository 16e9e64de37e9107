"""CUDA: what specs imply about CUDA, and the rules on it."""
