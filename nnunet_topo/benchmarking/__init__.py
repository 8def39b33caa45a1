"""Benchmarks behind ``nnunet-topo bench NAME`` (JSON output). Each module has ``main(argv) -> int``."""
__all__: list[str] = []
