"""Data: manifests of utterances, input listing, and the bundled/downloadable speech corpora."""

from .manifest import ManifestError, Utterance, list_inputs, read_manifest, write_manifest

__all__ = ["ManifestError", "Utterance", "list_inputs", "read_manifest", "write_manifest"]
