"""Bridges to the tools teams already use: models come in and go out without re-packaging."""
