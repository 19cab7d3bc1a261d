"""Training of PESTO-architecture pitch models for PESTO Tracker (see training/README.md)."""
