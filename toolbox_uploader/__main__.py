"""``python -m toolbox_uploader``: Ctrl+C while ``cli`` itself is imported is handled too."""

import sys


def _main() -> int:
    try:
        from toolbox_uploader.cli import main

        return main()
    except KeyboardInterrupt:  # before ``main`` could catch it
        print("interrupted", file=sys.stderr)
        return 130


sys.exit(_main())
