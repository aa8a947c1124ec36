"""The ``ruyi`` command line. It sits above the packages: it may import ruyi, server and terminal, and is
the only place that wires them to files, the clock and the environment for a person at a shell."""
