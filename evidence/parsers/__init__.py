"""Evidence parsers, one module per format; see ``base`` for the contract."""
