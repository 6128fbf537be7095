"""``python -m classicseg.docs``: build the HTML documentation (the ``classicseg docs`` command)."""
import sys

from classicseg.cli import main

sys.exit(main(["docs", *sys.argv[1:]]))
