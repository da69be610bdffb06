import sys

from ..cli import main

sys.exit(main(["sample", *sys.argv[1:]]))
