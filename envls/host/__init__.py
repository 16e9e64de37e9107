"""I/O about the machine envls runs on: its NVIDIA driver (CUDA), its conda tools and the environments they know."""
