import sys

from shoplens.cli import main

sys.exit(main())
