"""Fails while importing, as a function whose configuration is missing does."""

import os


class ConfigError(Exception):
    pass


if "DATABASE_URL" not in os.environ:
    raise ConfigError("DATABASE_URL is not set")


def handler(event, context):
    return "unreachable"
