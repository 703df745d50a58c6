"""A pod is ready only when every one of its workers is: each worker, once its model is loaded, leaves a
marker in a folder the supervisor made, and a worker's readiness answer is 200 only when all the
markers are there. Without this, the kubelet's probe reaches whichever worker accepts the connection
(SO_REUSEPORT), and a pod whose first worker loaded reported ready up to 1.3 s before its second
listened (issue 24), sending clients to a half-started pod."""

from __future__ import annotations

import os
from pathlib import Path


class WorkersReady:
    def __init__(self, folder: Path, count: int, index: int) -> None:
        self.folder = folder
        self.count = count
        self.index = index
        self._all = False

    def mark(self) -> None:
        """This worker's model is loaded."""
        (self.folder / str(self.index)).touch()

    def waiting_for(self) -> int:
        """How many workers are not ready yet; 0 once all were (a worker never becomes unready again
        by this check: draining and failed loads are each worker's own)."""
        if self._all:
            return 0
        try:
            ready = len(os.listdir(self.folder))
        except OSError:
            ready = 0
        self._all = ready >= self.count
        return max(self.count - ready, 0)
