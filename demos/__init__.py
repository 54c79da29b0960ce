"""The lesson demos, one script each; installed as the package `dnn_toolkit.demos`.

Run one from a checkout with `python demos/<name>.py`, or from any install with
`dnn-toolkit demo <name>` (`dnn-toolkit demo` lists them). They are scripts, not a
library: each imports its helpers as `import _common`, from its own directory, and
nothing here is imported by `dnn_toolkit` itself.
"""
