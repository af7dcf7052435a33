# thaw's Python runtime: the program `thaw lambda --runtime python` starts as
# `python3 -B bootstrap.py` to run an unmodified Lambda handler. Plain
# Python 3 (3.8 or later), standard library only. It speaks the Runtime API
# 2018-06-01 at http://$AWS_LAMBDA_RUNTIME_API.
#
# It aims to behave like the Python runtime of AWS Lambda (whose runtime
# client, awslambdaric, needs a C++ extension and simplejson). The behaviours
# below follow that client's public source; where this file differs it says
# so.
#
# Loading (_HANDLER = "[dir/]module.function", LAMBDA_TASK_ROOT first on
# sys.path):
#   - the handler is split at its last dot; no dot is
#     Runtime.MalformedHandlerName ("Bad handler '...': ...");
#   - a module named like a built-in module (sys, time, ...) is
#     Runtime.BuiltInModuleConflict;
#   - "dir/module" is imported as the package path "dir.module"; an
#     ImportError is Runtime.ImportModuleError ("Unable to import module
#     'm': No module named 'm'"), a SyntaxError Runtime.UserCodeSyntaxError;
#   - a missing attribute is Runtime.HandlerNotFound ("Handler 'f' missing on
#     module 'm'");
#   - any other exception while importing keeps its own class name as
#     errorType;
#   - an init failure is logged, POSTed to /runtime/init/error with
#     Lambda-Runtime-Function-Error-Type set to its errorType, and the process
#     exits 1.
#
# Invoking: handler(event, context), event parsed from JSON
# (Runtime.UnmarshalError if it is not). The return value is the response:
# bytes are posted as they are, anything else as JSON (ensure_ascii off,
# decimal.Decimal as a number; Runtime.MarshalError if it cannot be encoded).
# Unlike Lambda's runtime, which fails to marshal a coroutine, a return value
# that is awaitable (an `async def` handler) is awaited on one asyncio event
# loop that lives as long as the environment, so module-level async clients
# and tasks survive from one invocation to the next; like every other thread
# and timer of the process, those tasks only run while an invocation does.
#
# Errors are posted as {"errorMessage", "errorType", "requestId",
# "stackTrace"}: the exception's str() and class name, and its traceback as
# traceback.format_list() strings, without the leading frames of this file
# (and of asyncio, for awaited handlers). The errorType also goes in the
# Lambda-Runtime-Function-Error-Type header. Errors are logged first as one
# record: "[ERROR] Type: message", "Traceback (most recent call last):" and the
# trace lines, joined by '\r', with leading spaces written as U+00A0, as
# Lambda's runtime does on stdout. Exceptions that are not Exceptions
# (SystemExit, KeyboardInterrupt) end the process, as on Lambda.
#
# The context has aws_request_id, function_name, function_version,
# memory_limit_in_mb (a string, from the environment), invoked_function_arn,
# log_group_name, log_stream_name, client_context (an object with client,
# custom and env, or None), identity (an object with cognito_identity_id and
# cognito_identity_pool_id, both None unless the Lambda-Runtime-Cognito-Identity
# header is present), tenant_id, get_remaining_time_in_millis() (never below
# 0) and log(msg). os.environ["_X_AMZN_TRACE_ID"] is set from
# Lambda-Runtime-Trace-Id for each invocation, and removed when it is absent.
#
# Output: sys.stdout and sys.stderr are flushed on every write, so print()
# reaches the log at once and unchanged. The root logger gets a handler
# writing "[LEVEL]\t<UTC time>.<ms>Z\t<request id>\t<message>\n" to stdout
# (the request id is empty before the first event; a multi-line message keeps
# its newlines), and logging.Formatter.converter becomes time.gmtime, as on
# Lambda. As on Lambda the root level stays WARNING unless
# AWS_LAMBDA_LOG_LEVEL names a level, so logger.info() is dropped until the
# function lowers it. Not supported: AWS_LAMBDA_LOG_FORMAT=JSON, the telemetry
# log descriptor (_LAMBDA_TELEMETRY_LOG_FD), the X-Ray error cause header,
# SnapStart hooks and response streaming.
#
# The Runtime API client is one http.client connection, kept alive and reused,
# with no timeout: the process is frozen inside GET /next between invocations
# and must not give up on it. A request that fails because the server closed
# the reused connection is retried once on a new one. A failing Runtime API is
# fatal: the process says why on stderr and exits 1.

import collections.abc
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback

RUNTIME_API_PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
USER_AGENT = "thaw-python-bootstrap python/%d.%d.%d" % sys.version_info[:3]
ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_INDENT = "\u00a0"
THIS_FILE = os.path.abspath(__file__)

# The invocation in progress, for log records; None before the first event.
_request_id = None
_tenant_id = None


class Fault(Exception):
    """An error the runtime itself raises, with Lambda's Runtime.* type."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def make_error(message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": stack_trace or [],
    }


def _is_runtime_frame(filename):
    if os.path.abspath(filename) == THIS_FILE:
        return True
    # An awaited handler's traceback starts in asyncio's event loop.
    return os.sep + "asyncio" + os.sep in filename


def error_from_exception(exc_info, request_id=None):
    """The error body of an exception raised by the function's code."""
    etype, value, tb = exc_info
    frames = traceback.extract_tb(tb)
    for i, frame in enumerate(frames):
        if not _is_runtime_frame(frame.filename):
            frames = frames[i:]
            break
    return make_error(str(value), etype.__name__, traceback.format_list(frames), request_id)


# ---------------------------------------------------------------------------
# Output and logging.


class Unbuffered:
    """Wraps a stream so that every write is flushed at once."""

    def __init__(self, stream):
        self.stream = stream

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def write(self, text):
        n = self.stream.write(text)
        self.stream.flush()
        return n

    def writelines(self, lines):
        self.stream.writelines(lines)
        self.stream.flush()


def write_log(text):
    sys.stdout.write(text)


def _indent_with_nbsp(line):
    stripped = line.lstrip(" ")
    return ERROR_LOG_INDENT * (len(line) - len(stripped)) + stripped


def log_error(error):
    """Logs an error body the way Lambda's runtime does: one record."""
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description]
    trace = error.get("stackTrace")
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in trace:
            if element == "":
                lines.append("")
                continue
            lines.extend(_indent_with_nbsp(line) for line in element.splitlines())
    write_log(ERROR_LOG_LINE_TERMINATE.join(lines) + "\n")


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id or ""
        record.tenant_id = _tenant_id
        return True


class _LambdaLogHandler(logging.Handler):
    def emit(self, record):
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        write_log(text)


_LOG_LEVELS = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "CRITICAL": "CRITICAL",
    "FATAL": "CRITICAL",
}


def setup_logging():
    logging.Formatter.converter = time.gmtime
    handler = _LambdaLogHandler()
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    level = _LOG_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    if level:
        root.setLevel(level)
    root.addHandler(handler)


def diagnose(message):
    """Reports a problem of the runtime itself, outside the log format."""
    sys.stderr.write("thaw-bootstrap: %s\n" % message)


# ---------------------------------------------------------------------------
# Runtime API client.


class RuntimeAPI:
    def __init__(self, address):
        if not address:
            raise RuntimeError("AWS_LAMBDA_RUNTIME_API is not set")
        host, _, port = address.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.conn = None

    def _request(self, method, path, body=None, headers=None):
        all_headers = {"User-Agent": USER_AGENT}
        all_headers.update(headers or {})
        for attempt in (1, 2):
            if self.conn is None:
                # No timeout: the process is frozen inside GET /next.
                self.conn = http.client.HTTPConnection(self.host, self.port)
            reused = self.conn.sock is not None
            try:
                self.conn.request(method, RUNTIME_API_PREFIX + path, body=body, headers=all_headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2 or not reused:
                    raise
                continue
            if response.will_close:
                self.conn.close()
                self.conn = None
            return response.status, response.headers, data
        raise AssertionError("unreachable")

    def next(self):
        status, headers, body = self._request("GET", "/invocation/next")
        if status != 200:
            raise RuntimeError("GET /next answered %d: %r" % (status, body))
        return headers, body

    def _post(self, path, body, headers):
        status, _, answer = self._request("POST", path, body, headers)
        if not 200 <= status <= 299:
            # As on Lambda, a refused post does not stop the runtime.
            diagnose("POST %s answered %d: %r" % (path, status, answer))

    def post_response(self, request_id, body, content_type):
        self._post("/invocation/%s/response" % request_id, body, {"Content-Type": content_type})

    def post_error(self, request_id, error):
        self._post(
            "/invocation/%s/error" % request_id,
            json.dumps(error).encode("utf-8"),
            {"Content-Type": "application/json", ERROR_TYPE_HEADER: header_safe(error["errorType"])},
        )

    def post_init_error(self, error):
        self._post(
            "/init/error",
            json.dumps(error).encode("utf-8"),
            {"Content-Type": "application/json", ERROR_TYPE_HEADER: header_safe(error["errorType"])},
        )


def header_safe(text):
    """Makes text a valid HTTP header value: printable ASCII, the rest %-escaped."""
    out = []
    for c in str(text or ""):
        if c == "\t" or " " <= c <= "~":
            out.append(c)
        else:
            out.extend("%%%02X" % b for b in c.encode("utf-8"))
    return "".join(out)


# ---------------------------------------------------------------------------
# Loading the handler.


def load_handler(name):
    try:
        module_name, function_name = name.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (name, e))
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise Fault(
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module %s as a handler module" % module_name,
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise Fault("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise Fault("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (module_name, e), trace)
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise Fault(
            "Runtime.HandlerNotFound",
            "Handler '%s' missing on module '%s'" % (function_name, module_name),
        )


# ---------------------------------------------------------------------------
# The context object.


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self, fields):
        self.cognito_identity_id = fields.get("cognitoIdentityId")
        self.cognito_identity_pool_id = fields.get("cognitoIdentityPoolId")

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client:
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]

    def __init__(self, fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))


class ClientContext:
    __slots__ = ["custom", "env", "client"]

    def __init__(self, fields):
        self.custom = fields.get("custom")
        self.env = fields.get("env")
        client = fields.get("client")
        self.client = Client(client) if isinstance(client, dict) else client


def _parse_json_header(value, name):
    try:
        return json.loads(value)
    except Exception as e:
        raise Fault("Runtime.LambdaContextUnmarshalError", "Unable to parse %s JSON: %s" % (name, e))


class LambdaContext:
    """What the handler gets as its second argument."""

    def __init__(self, request_id, headers):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.tenant_id = headers.get("Lambda-Runtime-Aws-Tenant-Id")
        self.client_context = None
        client_context = headers.get("Lambda-Runtime-Client-Context")
        if client_context:
            fields = _parse_json_header(client_context, "Client Context")
            if isinstance(fields, dict):
                self.client_context = ClientContext(fields)
        # Always an object, its fields None without the header, as on Lambda.
        self.identity = CognitoIdentity({})
        identity = headers.get("Lambda-Runtime-Cognito-Identity")
        if identity:
            fields = _parse_json_header(identity, "Cognito Identity")
            if isinstance(fields, dict):
                self.identity = CognitoIdentity(fields)
        try:
            self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)
        except ValueError:
            self._deadline_ms = 0

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        write_log(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
            "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
            "invoked_function_arn=%s,client_context=%s,identity=%s,tenant_id=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


# ---------------------------------------------------------------------------
# Invoking.

_event_loop = None


def run_awaitable(awaitable):
    """Runs awaitable to completion on the environment's one event loop."""
    global _event_loop
    import asyncio
    import warnings

    if _event_loop is None or _event_loop.is_closed():
        loop = None
        # A loop the function set up at import time is the one its objects
        # are bound to: use it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                loop = asyncio.get_event_loop()
            except RuntimeError:
                pass
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
        _event_loop = loop

    async def wait():
        return await awaitable

    return _event_loop.run_until_complete(wait())


def _decimal_to_number(value):
    import decimal

    if isinstance(value, decimal.Decimal):
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def marshal(result):
    if isinstance(result, (bytes, bytearray)):
        return bytes(result), "application/unknown"
    try:
        return json.dumps(result, ensure_ascii=False, default=_decimal_to_number).encode("utf-8"), "application/json"
    except Exception as e:
        raise Fault("Runtime.MarshalError", "Unable to marshal response: %s" % e)


def unmarshal(body, content_type):
    if content_type and content_type != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise Fault("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e)


def handle_invocation(api, handler, request_id, headers, body):
    error = None
    try:
        context = LambdaContext(request_id, headers)
        event = unmarshal(body, headers.get("Content-Type"))
        result = handler(event, context)
        if isinstance(result, collections.abc.Awaitable):
            result = run_awaitable(result)
        payload, content_type = marshal(result)
    except Fault as f:
        error = make_error(f.message, f.error_type, f.trace, request_id)
    except Exception:
        error = error_from_exception(sys.exc_info(), request_id)
    if error is not None:
        log_error(error)
        api.post_error(request_id, error)
    else:
        api.post_response(request_id, payload, content_type)


def main():
    global _request_id, _tenant_id
    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)
    # The function's modules, not this file's directory, come first.
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    here = os.path.dirname(THIS_FILE)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, task_root)
    if os.environ.get("AWS_EXECUTION_ENV") == "AWS_Lambda_python3":
        os.environ["AWS_EXECUTION_ENV"] = "AWS_Lambda_python%d.%d" % sys.version_info[:2]
    setup_logging()
    try:
        api = RuntimeAPI(os.environ.get("AWS_LAMBDA_RUNTIME_API"))
    except Exception as e:
        diagnose("runtime API: %s" % e)
        sys.exit(1)

    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Fault as f:
        error = make_error(f.message, f.error_type, f.trace)
    except Exception:
        error = error_from_exception(sys.exc_info())
    else:
        error = None
    if error is not None:
        log_error(error)
        try:
            api.post_init_error(error)
        except Exception as e:
            diagnose("reporting the init error failed: %s" % e)
        sys.exit(1)

    while True:
        headers, body = api.next()
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        if not request_id:
            raise RuntimeError("GET /next answered without Lambda-Runtime-Aws-Request-Id")
        _request_id = request_id
        _tenant_id = headers.get("Lambda-Runtime-Aws-Tenant-Id")
        trace_id = headers.get("Lambda-Runtime-Trace-Id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        handle_invocation(api, handler, request_id, headers, body)


if __name__ == "__main__":
    try:
        main()
    except (OSError, http.client.HTTPException, RuntimeError) as e:
        diagnose("runtime API failure: %s" % e)
        sys.exit(1)
