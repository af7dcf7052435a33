// Package pythonruntime holds the Python runtime that `thaw lambda --runtime
// python` runs: bootstrap.py, a plain-Python replacement for Lambda's runtime
// client (awslambdaric needs a C++ extension and simplejson; this needs
// nothing but python3 and its standard library).
//
// The bootstrap is started as `python3 -B bootstrap.py` with Lambda's
// environment variables (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT,
// AWS_LAMBDA_FUNCTION_NAME, ...). It imports the handler module from
// LAMBDA_TASK_ROOT ("module.function", "dir/module.function") as Lambda's
// Python runtime does, then loops: GET /2018-06-01/runtime/invocation/next
// with no timeout over one kept-alive connection (the environment is frozen
// inside that request), call the handler, POST the result or the error.
//
// What it reproduces of Lambda's Python runtime, and where it differs, is
// written at the top of bootstrap.py. In short:
//
//   - Errors are reported in Python's shape, {"errorMessage", "errorType",
//     "requestId", "stackTrace"}, stackTrace a list of strings, with the
//     exception's class name as errorType (Runtime.ImportModuleError,
//     Runtime.HandlerNotFound, Runtime.UserCodeSyntaxError, ... for the
//     runtime's own) and the same value in the
//     Lambda-Runtime-Function-Error-Type header. Init errors go to
//     /runtime/init/error and the process exits 1.
//   - print() output reaches stdout unchanged and unbuffered; the root logger
//     writes "[LEVEL]\t<UTC time>Z\t<request id>\t<message>" records, and
//     stays at WARNING unless AWS_LAMBDA_LOG_LEVEL says otherwise, as on
//     Lambda.
//   - A handler returning an awaitable (an async def) is run to completion
//     on one asyncio event loop kept for the environment's life; Lambda's own
//     runtime would fail to marshal the coroutine.
//
// -B keeps Python from writing __pycache__ into the function's code, which
// on Lambda is read-only.
package pythonruntime

import (
	"context"
	_ "embed"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/thaw-dev/thaw/lambda/internal/bootstrapfile"
)

// FileName is the name Install gives the bootstrap script.
const FileName = "bootstrap.py"

//go:embed bootstrap.py
var script []byte

// Script returns a copy of the bootstrap's source, for callers that place it
// themselves.
func Script() []byte {
	return append([]byte(nil), script...)
}

// Install writes the bootstrap into dir as FileName, readable by everyone
// (0644), creating dir if needed, and returns the file's path. The file is
// written to a temporary name and renamed into place, so concurrent Installs
// into one directory, or a runtime starting while another Install runs, never
// see a partial script.
func Install(dir string) (string, error) {
	path, err := bootstrapfile.Install(dir, FileName, script)
	if err != nil {
		return "", fmt.Errorf("pythonruntime: %w", err)
	}
	return path, nil
}

// Command returns the program and arguments that run the bootstrap installed
// at bootstrapPath: "python3" (looked up in PATH; see Interpreter for the
// executable it stands for), -B (no bytecode files in the function's code)
// and the script's path.
func Command(bootstrapPath string) (name string, args []string) {
	return "python3", []string{"-B", bootstrapPath}
}

// interpreters caches Interpreter's answers by directory.
var interpreters sync.Map // directory → path of the python3 executable

// Interpreter returns the executable that "python3" runs when started in
// dir: sys.executable, as python3 itself reports it. Version managers such as
// pyenv and asdf put shims first in PATH, shell scripts that choose a version
// (by dir's .python-version, for one) at every start; inside a function's
// CPU share (7 % of a core at 128 MB) such a shim alone can take seconds of
// Init. Resolving it once, outside the sandbox, keeps the version the shim
// would choose and drops its cost. The answer is cached per dir; when python3
// cannot be asked, Interpreter returns "python3" and the sandbox's start
// reports the problem.
func Interpreter(dir string) string {
	if path, ok := interpreters.Load(dir); ok {
		return path.(string)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "-B", "-c", "import sys; print(sys.executable)")
	cmd.Dir = dir
	out, err := cmd.Output()
	path := strings.TrimSpace(string(out))
	if err != nil || !filepath.IsAbs(path) {
		return "python3"
	}
	interpreters.Store(dir, path)
	return path
}
