package lambda

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/thaw-dev/thaw/lambda/pythonruntime"
)

// functionLister is what the control API needs from the emulator: the
// functions it serves, defaults filled in, sorted by name.
type functionLister interface {
	servedFunctions() []Function
}

// controlAPI answers the read side of Lambda's control plane (ListFunctions,
// GetFunction, GetFunctionConfiguration, GetAccountSettings) in the shapes of
// the Lambda API 2015-03-31, so that the AWS CLI and SDKs can inspect what
// thaw serves, and every request it has no operation for with Lambda's JSON
// error shape.
type controlAPI struct {
	functions functionLister

	runtimeIDs sync.Map // AWS runtime identifier per interpreter ("node" or a python3 path)
}

// AWS figures thaw reports where it has nothing of its own: Lambda's default
// quotas (developer guide, "Lambda quotas") and the ephemeral storage default.
const (
	awsAccountConcurrency   = 1000
	awsTotalCodeSizeLimit   = 75 << 30  // 75 GB
	awsCodeSizeUnzipped     = 250 << 20 // 250 MB
	awsCodeSizeZipped       = 50 << 20  // 50 MB
	awsEphemeralStorageMB   = 512
	defaultListFunctionsMax = 50
	maxListFunctionsMax     = 10000
	awsLastModifiedLayout   = "2006-01-02T15:04:05.000-0700" // as Lambda writes it: 2024-05-01T09:30:00.000+0000
	localAccountRole        = "arn:aws:iam::000000000000:role/thaw-local"
)

func newControlAPI(functions functionLister) *controlAPI {
	return &controlAPI{functions: functions}
}

// register routes the control API's operations on mux, and every request no
// other route matches to the unknown-operation error. The AWS CLI (botocore)
// writes ListFunctions and GetAccountSettings with a trailing slash, the Go
// SDK without one.
func (c *controlAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /2015-03-31/functions", c.handleListFunctions)
	mux.HandleFunc("GET /2015-03-31/functions/{$}", c.handleListFunctions)
	mux.HandleFunc("GET /2015-03-31/functions/{name}", c.handleGetFunction)
	mux.HandleFunc("GET /2015-03-31/functions/{name}/configuration", c.handleGetFunctionConfiguration)
	mux.HandleFunc("GET /2016-08-19/account-settings", c.handleGetAccountSettings)
	mux.HandleFunc("GET /2016-08-19/account-settings/{$}", c.handleGetAccountSettings)
	mux.HandleFunc("/", handleUnknownOperation)
}

// functionConfiguration is Lambda's FunctionConfiguration for $LATEST.
type functionConfiguration struct {
	FunctionName     string            `json:"FunctionName"`
	FunctionArn      string            `json:"FunctionArn"`
	Runtime          string            `json:"Runtime"`
	Role             string            `json:"Role"`
	Handler          string            `json:"Handler,omitempty"`
	CodeSize         int64             `json:"CodeSize"`
	Description      string            `json:"Description"`
	Timeout          int               `json:"Timeout"`
	MemorySize       int               `json:"MemorySize"`
	LastModified     string            `json:"LastModified"`
	CodeSha256       string            `json:"CodeSha256"`
	Version          string            `json:"Version"`
	Environment      *environmentVars  `json:"Environment,omitempty"`
	TracingConfig    tracingConfig     `json:"TracingConfig"`
	State            string            `json:"State"`
	LastUpdateStatus string            `json:"LastUpdateStatus"`
	PackageType      string            `json:"PackageType"`
	Architectures    []string          `json:"Architectures"`
	EphemeralStorage ephemeralStorage  `json:"EphemeralStorage"`
	LoggingConfig    loggingConfig     `json:"LoggingConfig"`
	SnapStart        snapStartResponse `json:"SnapStart"`
	RevisionID       string            `json:"RevisionId"`
}

type environmentVars struct {
	Variables map[string]string `json:"Variables"`
}

type tracingConfig struct {
	Mode string `json:"Mode"`
}

type ephemeralStorage struct {
	Size int `json:"Size"`
}

type loggingConfig struct {
	LogFormat string `json:"LogFormat"`
	LogGroup  string `json:"LogGroup"`
}

type snapStartResponse struct {
	ApplyOn            string `json:"ApplyOn"`
	OptimizationStatus string `json:"OptimizationStatus"`
}

func (c *controlAPI) handleListFunctions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", newRequestID())
	q := r.URL.Query()
	if v := q.Get("FunctionVersion"); v != "" && v != "ALL" {
		writeAPIError(w, http.StatusBadRequest, "InvalidParameterValueException", "Unsupported value for FunctionVersion: "+v+" (the only value is ALL)")
		return
	}
	maxItems := defaultListFunctionsMax
	if v := q.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListFunctionsMax {
			writeAPIError(w, http.StatusBadRequest, "InvalidParameterValueException",
				fmt.Sprintf("MaxItems must be an integer from 1 to %d, not %q", maxListFunctionsMax, v))
			return
		}
		maxItems = n
	}
	// The marker is the name of the last function of the previous page:
	// functions are listed by name, so a page starts after it.
	marker := q.Get("Marker")
	var page []Function
	next := ""
	for _, f := range c.functions.servedFunctions() {
		if marker != "" && f.Name <= marker {
			continue
		}
		if len(page) == maxItems {
			next = page[len(page)-1].Name
			break
		}
		page = append(page, f)
	}
	out := struct {
		Functions  []functionConfiguration `json:"Functions"`
		NextMarker string                  `json:"NextMarker,omitempty"`
	}{Functions: []functionConfiguration{}, NextMarker: next}
	for _, f := range page {
		cfg, err := c.configuration(r.Context(), f)
		if err != nil {
			writeAPIError(w, http.StatusInternalServerError, "ServiceException", err.Error())
			return
		}
		out.Functions = append(out.Functions, cfg)
	}
	writeJSON(w, out)
}

func (c *controlAPI) handleGetFunction(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", newRequestID())
	f, cfg, ok := c.lookupConfiguration(w, r)
	if !ok {
		return
	}
	type codeLocation struct {
		RepositoryType string `json:"RepositoryType"`
		Location       string `json:"Location"`
	}
	type concurrency struct {
		ReservedConcurrentExecutions int `json:"ReservedConcurrentExecutions"`
	}
	writeJSON(w, struct {
		Configuration functionConfiguration `json:"Configuration"`
		Code          codeLocation          `json:"Code"`
		Concurrency   concurrency           `json:"Concurrency"`
	}{
		Configuration: cfg,
		// Lambda gives a presigned S3 URL of the .zip; thaw runs the code
		// where it lies, so it gives that place.
		Code:        codeLocation{RepositoryType: "S3", Location: "file://" + filepath.ToSlash(f.Code)},
		Concurrency: concurrency{ReservedConcurrentExecutions: f.Concurrency},
	})
}

func (c *controlAPI) handleGetFunctionConfiguration(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", newRequestID())
	_, cfg, ok := c.lookupConfiguration(w, r)
	if !ok {
		return
	}
	writeJSON(w, cfg)
}

func (c *controlAPI) handleGetAccountSettings(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Amzn-Requestid", newRequestID())
	type accountLimit struct {
		TotalCodeSize                  int64 `json:"TotalCodeSize"`
		CodeSizeUnzipped               int64 `json:"CodeSizeUnzipped"`
		CodeSizeZipped                 int64 `json:"CodeSizeZipped"`
		ConcurrentExecutions           int   `json:"ConcurrentExecutions"`
		UnreservedConcurrentExecutions int   `json:"UnreservedConcurrentExecutions"`
	}
	type accountUsage struct {
		TotalCodeSize int64 `json:"TotalCodeSize"`
		FunctionCount int64 `json:"FunctionCount"`
	}
	var usage accountUsage
	reserved := 0
	for _, f := range c.functions.servedFunctions() {
		code, err := inspectCode(f.Code)
		if err != nil {
			writeAPIError(w, http.StatusInternalServerError, "ServiceException", err.Error())
			return
		}
		usage.TotalCodeSize += code.size
		usage.FunctionCount++
		reserved += f.Concurrency
	}
	writeJSON(w, struct {
		AccountLimit accountLimit `json:"AccountLimit"`
		AccountUsage accountUsage `json:"AccountUsage"`
	}{
		AccountLimit: accountLimit{
			TotalCodeSize:                  awsTotalCodeSizeLimit,
			CodeSizeUnzipped:               awsCodeSizeUnzipped,
			CodeSizeZipped:                 awsCodeSizeZipped,
			ConcurrentExecutions:           awsAccountConcurrency,
			UnreservedConcurrentExecutions: max(awsAccountConcurrency-reserved, 0),
		},
		AccountUsage: usage,
	})
}

// handleUnknownOperation answers a request for an operation thaw does not
// serve as the Lambda service answers one it does not know: 404 with
// UnknownOperationException in X-Amzn-ErrorType and a JSON body, never
// net/http's plain-text "404 page not found".
func handleUnknownOperation(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", newRequestID())
	writeAPIError(w, http.StatusNotFound, "UnknownOperationException",
		fmt.Sprintf("thaw lambda has no operation %s %s; it serves Invoke, ListFunctions, GetFunction, GetFunctionConfiguration and GetAccountSettings", r.Method, r.URL.Path))
}

// lookup finds the function the path and the Qualifier parameter name, or
// answers ResourceNotFoundException as Lambda does.
func (c *controlAPI) lookup(w http.ResponseWriter, r *http.Request) (Function, bool) {
	name, latest := functionNameOf(r.PathValue("name"), r.URL.Query().Get("Qualifier"))
	if latest {
		for _, f := range c.functions.servedFunctions() {
			if f.Name == name {
				return f, true
			}
		}
	}
	writeAPIError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+functionARN(name))
	return Function{}, false
}

// lookupConfiguration finds the function the request names and describes it,
// or answers the error as Lambda does.
func (c *controlAPI) lookupConfiguration(w http.ResponseWriter, r *http.Request) (Function, functionConfiguration, bool) {
	f, ok := c.lookup(w, r)
	if !ok {
		return Function{}, functionConfiguration{}, false
	}
	cfg, err := c.configuration(r.Context(), f)
	if err != nil {
		writeAPIError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		return Function{}, functionConfiguration{}, false
	}
	return f, cfg, true
}

// configuration describes f as Lambda's FunctionConfiguration of $LATEST.
func (c *controlAPI) configuration(ctx context.Context, f Function) (functionConfiguration, error) {
	code, err := inspectCode(f.Code)
	if err != nil {
		return functionConfiguration{}, err
	}
	cfg := functionConfiguration{
		FunctionName:     f.Name,
		FunctionArn:      functionARN(f.Name),
		Runtime:          c.runtimeID(ctx, f),
		Role:             localAccountRole,
		Handler:          f.Handler,
		CodeSize:         code.size,
		Timeout:          int(math.Ceil(f.Timeout.Seconds())),
		MemorySize:       f.MemoryMB,
		LastModified:     code.modified.UTC().Format(awsLastModifiedLayout),
		CodeSha256:       code.sha256,
		Version:          "$LATEST",
		TracingConfig:    tracingConfig{Mode: "PassThrough"},
		State:            "Active",
		LastUpdateStatus: "Successful",
		PackageType:      "Zip",
		Architectures:    []string{awsArchitecture()},
		EphemeralStorage: ephemeralStorage{Size: awsEphemeralStorageMB},
		LoggingConfig:    loggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + f.Name},
		SnapStart:        snapStartResponse{ApplyOn: "None", OptimizationStatus: "Off"},
		RevisionID:       revisionID(code.sha256, f),
	}
	if len(f.Env) > 0 {
		cfg.Environment = &environmentVars{Variables: f.Env}
	}
	return cfg, nil
}

// awsArchitecture is Lambda's name of the machine's architecture.
func awsArchitecture() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

// revisionID is a UUID-shaped digest of the code and the settings reported,
// so that it changes when either does, as Lambda's RevisionId does.
func revisionID(codeSha256 string, f Function) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%v\x00%v", codeSha256, f.Runtime, f.Handler, f.MemoryMB, f.Timeout, f.sortedEnv())
	s := fmt.Sprintf("%x", h.Sum(nil))
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// runtimeID is the AWS runtime identifier of f: provided.al2023 for
// provided, and for nodejs and python the identifier of the interpreter
// that actually runs it (node v22 → nodejs22.x, Python 3.11 → python3.11),
// thaw's own runtime name when the version cannot be learned.
func (c *controlAPI) runtimeID(ctx context.Context, f Function) string {
	var key string
	var cmd []string
	switch f.Runtime {
	case RuntimeNodeJS:
		key, cmd = "node", []string{"node", "-p", `"nodejs" + process.versions.node.split(".")[0] + ".x"`}
	case RuntimePython:
		interpreter := pythonruntime.Interpreter(f.taskRoot())
		key, cmd = interpreter, []string{interpreter, "-B", "-c", `import sys; print("python%d.%d" % sys.version_info[:2])`}
	default:
		return "provided.al2023"
	}
	if id, ok := c.runtimeIDs.Load(key); ok {
		return id.(string)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cmd[0], cmd[1:]...).Output()
	id := strings.TrimSpace(string(out))
	if err != nil || id == "" {
		return f.Runtime // not cached: the next request tries again
	}
	c.runtimeIDs.Store(key, id)
	return id
}

// codeInfo is what Lambda reports of a deployment package, measured on the
// code thaw runs in place.
type codeInfo struct {
	size     int64     // bytes of every regular file
	sha256   string    // base64 SHA-256 over each file's relative path and content, in path order
	modified time.Time // the newest file's modification time
}

// inspectCode measures path, a file or a directory tree, read anew on each
// request so that edits to the code show.
func inspectCode(path string) (codeInfo, error) {
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	var files []string
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return codeInfo{}, fmt.Errorf("lambda: code %s: %w", path, err)
	}
	sort.Strings(files)
	var info codeInfo
	h := sha256.New()
	for _, p := range files {
		st, err := os.Stat(p) // follows a symlink to the file it names
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !st.Mode().IsRegular()) {
			continue // a dangling or directory symlink is not code Lambda would package
		}
		if err != nil {
			return codeInfo{}, fmt.Errorf("lambda: code %s: %w", path, err)
		}
		rel, _ := filepath.Rel(path, p)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), st.Size())
		if err := hashFile(h, p); err != nil {
			return codeInfo{}, fmt.Errorf("lambda: code %s: %w", path, err)
		}
		info.size += st.Size()
		if st.ModTime().After(info.modified) {
			info.modified = st.ModTime()
		}
	}
	info.sha256 = base64.StdEncoding.EncodeToString(h.Sum(nil))
	return info, nil
}

func hashFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
