"""nnlib: fully-connected neural networks in NumPy."""
