"""Tooling of the book itself (student copies, the Colab cells, the diagrams): not part of the reader's package."""
