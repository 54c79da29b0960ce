"""`python -m dnn_toolkit`: the same command line as `dnn-toolkit`."""

import sys

from dnn_toolkit import cli

if __name__ == "__main__":
  sys.exit(cli.main())
