"""A handler in a package directory: _HANDLER=pkg/nested.handler."""


def handler(event, context):
    return {"module": __name__, "event": event}
