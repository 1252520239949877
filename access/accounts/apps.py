from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "access.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"
