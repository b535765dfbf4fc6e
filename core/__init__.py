"""What every layer shares: config, models, access control, metadata database."""
