"""The manifest models, its JSON Schema, and reading/writing `baton.yaml`."""

from .errors import BatonError
from .io import MANIFEST_NAME, manifest_digest, read_manifest, write_manifest
from .manifest import API_VERSION, Draft, Manifest, is_todo

__all__ = ["API_VERSION", "BatonError", "Draft", "MANIFEST_NAME", "Manifest", "is_todo",
           "manifest_digest", "read_manifest", "write_manifest"]
