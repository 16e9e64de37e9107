"""I/O for the pip section: pip's configuration, package index pages, and the files that pip lines name."""
