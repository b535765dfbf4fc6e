"""Answer generation with numbered citations, over retrieved and permitted sources only."""
