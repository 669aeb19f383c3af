"""The end-to-end handoff demo: `baton demo`, the README's main job.

A data scientist trains a real scikit-learn pipeline on the breast-cancer data that ships
with scikit-learn, with its feature code in a module of its own, and hands it over; the
engineers who run it verify it in a clean room, approve it by four eyes, serve it, watch a
challenger in live shadow, get a drift alert and roll back. Every step prints the command a
user would type and then runs exactly that command, so the demo is also the tutorial.
The project it writes (`project/`: features.py, train.py, send_traffic.py, baton.yaml) is
ordinary code a reader can open.
"""

from __future__ import annotations

from .story import run_demo

__all__ = ["run_demo"]
