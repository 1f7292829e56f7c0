"""The bottom layer: the project's exceptions and its one settings object, shared by every layer above."""
