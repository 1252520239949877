"""User accounts and the four roles (Django groups) that decide what each account may do."""
