import sys

from callrt.cli import main

sys.exit(main())
