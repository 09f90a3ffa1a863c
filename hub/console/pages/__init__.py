"""One module per console page area; each exports ``routes``."""
