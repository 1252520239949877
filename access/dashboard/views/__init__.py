"""The dashboard's pages, one module per area; `access.py` holds the login and roles they all share."""
