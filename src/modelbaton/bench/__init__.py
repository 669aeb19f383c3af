"""Profiling (`baton bench`): `profile` measures and records, `probe` is the measuring process."""
