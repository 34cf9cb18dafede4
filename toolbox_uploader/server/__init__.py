"""The embedded aiohttp reference server: tus 1.0, the REST API and WebSocket progress."""
