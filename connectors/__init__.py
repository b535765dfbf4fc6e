"""Sources of documents and the sync that turns their changes into index updates."""
