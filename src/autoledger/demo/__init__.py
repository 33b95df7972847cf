"""The demo company simulator: a year of a small business's finances, its bank statements in
every format autoledger reads, and the ground truth that grades categorization and
reconciliation."""
