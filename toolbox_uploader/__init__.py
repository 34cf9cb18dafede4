"""ToolBox Uploader: check, shrink and resumably upload teaching materials to a school server."""

__version__ = "0.1.0"
APP_NAME = "toolbox-uploader"
