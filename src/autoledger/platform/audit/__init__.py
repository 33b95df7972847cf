"""The audit log: who did what to which record, when, hash-chained per tenant."""
