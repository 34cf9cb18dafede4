import sys

from toolbox_uploader.cli import main

sys.exit(main())
