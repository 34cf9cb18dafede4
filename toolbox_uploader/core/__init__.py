"""The Qt-free engine: validation, optimization, the tus client, the session store, the scheduler.

Nothing under this package may import PySide6 (an import-linter contract checks it).
"""
