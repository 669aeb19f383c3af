"""Clean-room verification and signatures (`baton verify`, `baton keys`, `baton sign`).

`clean_room.verify_package` runs every check and writes the receipt; `environments` builds
the clean room from a lock; `replay` is what runs inside it; `signatures` holds keys, the
keyring, and package and receipt signatures. This package imports nothing heavy itself:
`replay` runs in environments that hold only the lock and modelbaton's core dependencies.
"""
