"""Upload progress fan-out for the WebSocket route.

The tus and direct-upload handlers call ``publish`` as bytes arrive; each WebSocket
subscriber has a small bounded queue. A slow subscriber loses intermediate updates,
never the final one, and never slows an upload down.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

FINAL_STATUSES = frozenset({"completed", "failed", "terminated", "expired"})
_QUEUE_SIZE = 16


@dataclass(slots=True)
class _Track:
    total: int | None
    last_bytes: int = 0
    last_time: float = field(default_factory=time.monotonic)
    last_sent: float = 0.0
    speed: float = 0.0  # bytes/s, exponential moving average
    message: dict[str, Any] | None = None


class ProgressHub:
    def __init__(self, min_interval: float = 0.2) -> None:
        self.min_interval = min_interval
        self._tracks: dict[str, _Track] = {}
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = {}

    def publish(
        self,
        file_id: str,
        bytes_uploaded: int,
        total_bytes: int | None,
        status: str = "uploading",
        message: str | None = None,
    ) -> None:
        now = time.monotonic()
        track = self._tracks.get(file_id)
        if track is None:
            track = self._tracks[file_id] = _Track(total_bytes, bytes_uploaded, now)
        track.total = total_bytes
        elapsed = now - track.last_time
        if elapsed > 0.05 and bytes_uploaded >= track.last_bytes:
            instant = (bytes_uploaded - track.last_bytes) / elapsed
            track.speed = instant if track.speed == 0 else 0.3 * instant + 0.7 * track.speed
            track.last_bytes, track.last_time = bytes_uploaded, now
        final = status in FINAL_STATUSES
        if not final and now - track.last_sent < self.min_interval:
            return
        track.last_sent = now
        remaining = None
        if total_bytes is not None and track.speed > 0:
            remaining = max(0.0, (total_bytes - bytes_uploaded) / track.speed)
        data: dict[str, Any] = {
            "file_id": file_id,
            "bytes_uploaded": bytes_uploaded,
            "total_bytes": total_bytes,
            "progress_percentage": (
                round(100.0 * bytes_uploaded / total_bytes, 2) if total_bytes else
                (100.0 if total_bytes == 0 else None)
            ),
            "status": status,
            "upload_speed": round(track.speed, 1),
            "estimated_time_remaining": None if remaining is None else round(remaining, 1),
        }
        if message:
            data["message"] = message
        event = {"type": "upload_progress", "data": data}
        track.message = event
        for queue in self._subscribers.get(file_id, ()):
            _offer(queue, event)
            if final:
                _offer(queue, None)
        if final:
            self._tracks.pop(file_id, None)

    def tracked(self) -> frozenset[str]:
        """The uploads whose progress is being followed (each holds a little memory
        until its final status is published)."""
        return frozenset(self._tracks)

    def subscribe(self, file_id: str) -> asyncio.Queue[dict[str, Any] | None]:
        """A queue of progress events; ``None`` after the final one."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(_QUEUE_SIZE)
        self._subscribers.setdefault(file_id, set()).add(queue)
        track = self._tracks.get(file_id)
        if track is not None and track.message is not None:
            _offer(queue, track.message)
        return queue

    def unsubscribe(self, file_id: str, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        subscribers = self._subscribers.get(file_id)
        if subscribers is not None:
            subscribers.discard(queue)
            if not subscribers:
                del self._subscribers[file_id]


def _offer(queue: asyncio.Queue[dict[str, Any] | None], item: dict[str, Any] | None) -> None:
    """Put without waiting; when full, drop the oldest update to make room."""
    while True:
        try:
            queue.put_nowait(item)
            return
        except asyncio.QueueFull:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
