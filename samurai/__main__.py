import sys

from samurai.cli import main

sys.exit(main())
