"""Pure definitions: steps, pipelines, graphs, fingerprints. No I/O happens here."""
