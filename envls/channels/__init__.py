"""Channel sources: conda's configuration files and how channel names become URLs."""
