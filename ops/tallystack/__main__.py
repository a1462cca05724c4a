"""`python3 -m tallystack COMMAND ...` (with PYTHONPATH=ops), as ops/stack.sh runs it."""
import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
