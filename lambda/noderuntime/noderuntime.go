// Package noderuntime holds the Node.js runtime that `thaw lambda --runtime
// nodejs` runs: bootstrap.mjs, a plain-JavaScript replacement for Lambda's
// native runtime client (aws-lambda-ric needs a C++ addon, cmake and Node 22;
// this needs nothing but node).
//
// The bootstrap is started as `node bootstrap.mjs` with Lambda's environment
// variables (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT,
// AWS_LAMBDA_FUNCTION_NAME, ...). It loads the handler module from
// LAMBDA_TASK_ROOT the way Lambda's Node runtime does (.js as CommonJS or ES
// module according to the nearest package.json "type", .mjs, .cjs, nested
// handler paths), then loops: GET /2018-06-01/runtime/invocation/next with no
// timeout over one kept-alive connection (the environment is frozen inside
// that request), call the handler, POST the result or the error.
//
// What it reproduces of Lambda's Node runtime, and where it differs, is
// written at the top of bootstrap.mjs. In short:
//
//   - Errors are reported in Node's shape, {"errorType", "errorMessage",
//     "trace"}, with the error's name as errorType (Runtime.ImportModuleError,
//     Runtime.HandlerNotFound, Runtime.UserCodeSyntaxError, ... for the
//     runtime's own) and the same value in the Lambda-Runtime-Function-Error-Type
//     header. Init errors go to /runtime/init/error and the process exits 129.
//   - console.* writes one record per call to stdout,
//     "<ISO time>\t<request id>\t<LEVEL>\t<util.format(...)>", with newlines
//     inside a record written as '\r' so that every record is exactly one
//     line, as the official client does on stdout. With
//     AWS_LAMBDA_LOG_FORMAT=JSON records are JSON objects instead. If
//     _LAMBDA_TELEMETRY_LOG_FD names an open descriptor, records go there in
//     Lambda's binary framing (16-byte header, newlines kept) instead of stdout.
//   - callbackWaitsForEmptyEventLoop is honoured as on Lambda: a callback
//     result is posted only once the event loop is empty (Node's beforeExit),
//     unless the handler set it to false.
//   - An uncaught exception or unhandled rejection during an invocation is
//     posted as that invocation's error, then the process exits (129 and 128),
//     so that the emulator starts a fresh environment.
//
// Response streaming (awslambda.streamifyResponse) is not supported.
package noderuntime

import (
	_ "embed"
	"fmt"

	"github.com/thaw-dev/thaw/lambda/internal/bootstrapfile"
)

// FileName is the name Install gives the bootstrap script.
const FileName = "bootstrap.mjs"

//go:embed bootstrap.mjs
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
		return "", fmt.Errorf("noderuntime: %w", err)
	}
	return path, nil
}

// Command returns the program and arguments that run the bootstrap installed
// at bootstrapPath: "node" (looked up in PATH) and the script's path. No
// Node options are added; in particular --enable-source-maps stays off, as on
// Lambda unless the function sets NODE_OPTIONS itself.
func Command(bootstrapPath string) (name string, args []string) {
	return "node", []string{bootstrapPath}
}
