"""Package capture, packing, archives, integrity and loading."""
