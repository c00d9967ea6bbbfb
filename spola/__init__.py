"""The ``spola`` command line: one entry point, one function per subcommand.

Subcommands import what they need when they run, so ``spola --help`` and the commands of a
terminal or an auditor's install work without the server's stack.
"""
