"""The frozen app's entry point (packaging/toolbox-uploader.spec): ``python -m toolbox_uploader``
after ``multiprocessing.freeze_support()``.

Validation runs in a pool of "spawn" workers (``core/parallel.py``). In a PyInstaller build each
worker, and multiprocessing's resource tracker, is this executable started again with
multiprocessing's own arguments; without ``freeze_support()`` the command line would read those
as a sub-command ("invalid choice: 'from multiprocessing.resource_tracker import main'") and
every file would be refused.
"""

import multiprocessing
import runpy

if __name__ == "__main__":
    multiprocessing.freeze_support()
    runpy.run_module("toolbox_uploader", run_name="__main__", alter_sys=True)
