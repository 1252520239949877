"""The audit trail: who created, changed or deleted what, through the API or the admin, from where."""
