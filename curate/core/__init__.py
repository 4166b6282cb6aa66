"""Shared core: errors, hashing, YAML, versions, records, files, logs, pydantic base. Imports nothing else of ours."""
