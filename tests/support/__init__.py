"""Test helpers shared across test packages (fault proxy, independent tus peers)."""
