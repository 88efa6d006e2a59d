"""Tests against other projects' data, kept byte for byte with its provenance (repository, path, commit)."""
