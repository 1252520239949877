from django.core.management.base import BaseCommand

from access.accounts.services import create_admin


class Command(BaseCommand):
    help = "Create the admin account with a generated password, printed once; does nothing if it exists."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="")

    def handle(self, *args, username: str, email: str, **options) -> None:
        password = create_admin(username, email)
        if password is None:
            self.stdout.write(f"Admin account '{username}' already exists; its password is unchanged.")
            return
        self.stdout.write(self.style.SUCCESS(f"Created admin account '{username}' with password: {password}"))
        self.stdout.write("This password is shown only once; store it now.")
