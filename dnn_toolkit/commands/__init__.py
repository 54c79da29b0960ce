"""The subcommands of `dnn-toolkit`, one module each, listed in `cli.COMMANDS`.

A command module is a small protocol, the same for every command:

    add_parser(subparsers) -> argparse.ArgumentParser
        Adds the command with `subparsers.add_parser(NAME, help=..., description=...,
        epilog=EXAMPLES)` and its flags; returns the parser. Nothing slow: `--help` must
        answer in well under a second, so a module imports no TensorFlow at its top
        (flag defaults and choices come from `dnn_toolkit.config`).
    run(args) -> int
        Runs the command on the parsed flags; returns the exit code. It imports what it
        needs inside. Errors are raised, not printed: `cli.main` turns a
        `DnnToolkitError`, `ValueError`, `TypeError`, `OSError` or TensorFlow `OpError`
        into one line naming the flag, and exit code 2.
    LOADS_TENSORFLOW = False      (optional; default True)
        `cli.main` imports TensorFlow quietly (start-up lines hidden) before `run`
        unless the module sets this: a command that needs TensorFlow late or not at all
        then calls `dnn_toolkit.import_tensorflow_quietly()` itself when it does.

Flags that several commands share (the model, optimization, data and run flags) live in
`_flags`; a new command reuses them rather than declaring its own copies. Adding a
command is a new module here and one line in `cli.COMMANDS`.
"""

#: Exit code of a command whose input or state was refused (one line on stderr).
EXIT_ERROR = 2
#: Exit code after Ctrl-C, as a shell reports a process SIGINT ended.
EXIT_INTERRUPTED = 130
