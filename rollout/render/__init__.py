"""How a plan is shown: one module per output format."""
