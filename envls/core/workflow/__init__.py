"""Text produced for the environment workflow: exported files and Dockerfiles."""
