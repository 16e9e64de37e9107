"""Solving the environment file in the background with py-rattler (I/O): the solve service, its
bounded runner, the target platforms' virtual packages, lock-file export and the commands built on them."""
