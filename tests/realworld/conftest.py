"""Tests against other projects' data, kept byte for byte with its provenance.

Each corpus records repository, path and commit of every file it ported.
"""
