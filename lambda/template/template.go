// Package template reads the functions of an AWS SAM or CloudFormation
// template, as `thaw lambda --template` serves them: every
// AWS::Serverless::Function and AWS::Lambda::Function becomes a
// lambda.Function named by its logical id, the name `sam local invoke` uses.
//
// Intrinsic functions are resolved as far as a template alone allows (with
// github.com/awslabs/goformation): Ref of a parameter gives its Default, Ref
// of a resource its logical id, the pseudo parameters thaw's own values
// (AWS::Region from AWS_REGION, account 000000000000), Fn::Sub, Fn::Join,
// Fn::If, Fn::FindInMap and the others that need no deployed stack.
// Fn::GetAtt, Fn::ImportValue and references to parameters without a default
// stay unresolved: an environment variable set from one is left out with a
// warning, any other property that needs one is an error.
//
// Globals.Function applies to every AWS::Serverless::Function as SAM applies
// it: maps merge, lists append, the function's own scalars win.
//
// Code runs as it is on disk: CodeUri (or, for AWS::Lambda::Function, Code
// given as a path, as `aws cloudformation package` accepts) is a directory
// relative to the template; nothing is built. What thaw cannot run is an
// error that names the resource and the property: an unsupported Runtime,
// PackageType Image, code in S3 or inline, Layers.
package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/awslabs/goformation/v7/cloudformation/lambda"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"

	thawlambda "github.com/thaw-dev/thaw/lambda"
)

// Resource types Load maps to functions.
const (
	TypeServerlessFunction = "AWS::Serverless::Function"
	TypeLambdaFunction     = "AWS::Lambda::Function"
)

var (
	// ErrUnsupported means the template asks for something thaw cannot run.
	ErrUnsupported = errors.New("template: unsupported")
	// ErrInvalid means the template cannot be read or lacks what a function
	// needs.
	ErrInvalid = errors.New("template: invalid")
)

// PropertyError names the resource and the property that Load cannot honour.
// It wraps ErrUnsupported or ErrInvalid.
type PropertyError struct {
	// Resource is the logical id.
	Resource string
	// Property is the property's path, e.g. "Runtime" or "CodeUri".
	Property string
	// Reason says what is wrong, for people.
	Reason string
	// Err is ErrUnsupported or ErrInvalid.
	Err error
}

func (e *PropertyError) Error() string {
	return fmt.Sprintf("template: %s: %s: %s", e.Resource, e.Property, e.Reason)
}

func (e *PropertyError) Unwrap() error { return e.Err }

// Template is what Load found in a template.
type Template struct {
	// Functions are the template's functions, sorted by logical id.
	Functions []thawlambda.Function
	// Warnings name what was left out, such as an environment variable whose
	// value needs a deployed stack.
	Warnings []string
}

// Load reads the template at path (YAML, or JSON when its name ends in
// .json) and returns its functions. Errors about single functions are
// joined, so that one run names every property to fix.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return Parse(data, dir, strings.HasSuffix(path, ".json"))
}

// processMu serialises goformation's YAML processing, which registers its
// tag handlers in a package-level map on every call.
var processMu sync.Mutex

// Parse reads a template from data, YAML unless isJSON; relative code paths
// are resolved against dir.
func Parse(data []byte, dir string, isJSON bool) (*Template, error) {
	r := newResolver()
	opts := &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref":     r.ref,
			"Fn::Sub": r.sub,
		},
		EvaluateConditions: true,
	}
	processed, err := process(data, isJSON, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var doc struct {
		Globals   map[string]map[string]any `json:"Globals"`
		Resources map[string]struct {
			Type       string         `json:"Type"`
			Properties map[string]any `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(processed, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}

	ids := make([]string, 0, len(doc.Resources))
	for id, res := range doc.Resources {
		if res.Type == TypeServerlessFunction || res.Type == TypeLambdaFunction {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no %s or %s resources", ErrInvalid, TypeServerlessFunction, TypeLambdaFunction)
	}
	sort.Strings(ids)

	t := &Template{}
	var errs []error
	for _, id := range ids {
		res := doc.Resources[id]
		m := mapper{id: id, dir: dir, template: t}
		var fn thawlambda.Function
		if res.Type == TypeServerlessFunction {
			fn = m.serverlessFunction(mergeGlobals(doc.Globals["Function"], res.Properties))
		} else {
			fn = m.lambdaFunction(res.Properties)
		}
		if len(m.errs) > 0 {
			errs = append(errs, m.errs...)
			continue
		}
		t.Functions = append(t.Functions, fn)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// process resolves the template's intrinsic functions and returns it as
// JSON. Some of goformation's handlers index their arguments unchecked
// (Fn::Select with one argument, say); such a panic is a malformed template,
// not a crash.
func process(data []byte, isJSON bool, opts *intrinsics.ProcessorOptions) (processed []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed intrinsic function: %v", r)
		}
	}()
	if isJSON {
		return intrinsics.ProcessJSON(data, opts)
	}
	processMu.Lock()
	defer processMu.Unlock()
	return intrinsics.ProcessYAML(data, opts)
}

// mapper turns one resource's properties into a thaw function, collecting
// every problem on the way.
type mapper struct {
	id       string
	dir      string
	template *Template
	errs     []error
}

func (m *mapper) fail(sentinel error, property, format string, args ...any) {
	m.errs = append(m.errs, &PropertyError{Resource: m.id, Property: property, Reason: fmt.Sprintf(format, args...), Err: sentinel})
}

func (m *mapper) warn(format string, args ...any) {
	m.template.Warnings = append(m.template.Warnings, fmt.Sprintf("%s: ", m.id)+fmt.Sprintf(format, args...))
}

// usedProperties are, by resource type, the properties thaw reads; the
// others (Events, Policies, Role, VpcConfig, ...) do not change how a
// function runs locally and are passed over, so that a property goformation
// does not know yet cannot fail a template.
var usedProperties = map[string][]string{
	TypeServerlessFunction: {"Runtime", "Handler", "CodeUri", "InlineCode", "ImageUri", "PackageType",
		"MemorySize", "Timeout", "Environment", "ReservedConcurrentExecutions", "Layers"},
	TypeLambdaFunction: {"Runtime", "Handler", "Code", "PackageType",
		"MemorySize", "Timeout", "Environment", "ReservedConcurrentExecutions", "Layers"},
}

// typed decodes the properties thaw reads into goformation's type for the
// resource, out.
func (m *mapper) typed(resourceType string, props map[string]any, out any) bool {
	kept := map[string]any{}
	for _, name := range usedProperties[resourceType] {
		if v, ok := props[name]; ok && v != nil {
			kept[name] = v
		}
	}
	data, err := json.Marshal(map[string]any{"Type": resourceType, "Properties": kept})
	if err == nil {
		err = json.Unmarshal(data, out)
	}
	if err != nil {
		m.fail(ErrInvalid, "Properties", "%v", err)
		return false
	}
	return true
}

func (m *mapper) serverlessFunction(props map[string]any) thawlambda.Function {
	if !m.normalize(props) {
		return thawlambda.Function{}
	}
	var f serverless.Function
	if !m.typed(TypeServerlessFunction, props, &f) {
		return thawlambda.Function{}
	}
	if m.refuseImage(f.PackageType, f.ImageUri) {
		return thawlambda.Function{}
	}
	if f.InlineCode != nil {
		m.fail(ErrUnsupported, "InlineCode", "inline code is not supported; put it in a file under CodeUri")
	}
	m.refuseLayers(f.Layers)
	codeDir := ""
	switch {
	case f.CodeUri == nil:
		if f.InlineCode == nil {
			m.fail(ErrInvalid, "CodeUri", "is required: the directory holding the function's code")
		}
	case f.CodeUri.S3Location != nil:
		m.fail(ErrUnsupported, "CodeUri", "code in S3 (Bucket/Key) is not supported; point CodeUri at the local directory")
	case f.CodeUri.String != nil:
		codeDir = m.localCode("CodeUri", *f.CodeUri.String)
	}
	var env map[string]string
	if f.Environment != nil {
		env = f.Environment.Variables
	}
	return m.function(f.Runtime, f.Handler, codeDir, f.MemorySize, f.Timeout, f.ReservedConcurrentExecutions, env)
}

func (m *mapper) lambdaFunction(props map[string]any) thawlambda.Function {
	if !m.normalize(props) {
		return thawlambda.Function{}
	}
	// Code may be a local path, as `aws cloudformation package` and SAM
	// accept, which goformation's type (an object) cannot hold.
	codeDir := ""
	codePath, codeIsPath := props["Code"].(string)
	if codeIsPath {
		delete(props, "Code")
	}
	var f lambda.Function
	if !m.typed(TypeLambdaFunction, props, &f) {
		return thawlambda.Function{}
	}
	if m.refuseImage(f.PackageType, nil) {
		return thawlambda.Function{}
	}
	m.refuseLayers(f.Layers)
	switch {
	case codeIsPath:
		codeDir = m.localCode("Code", codePath)
	case f.Code == nil:
		m.fail(ErrInvalid, "Code", "is required: the directory holding the function's code")
	case f.Code.ImageUri != nil:
		m.fail(ErrUnsupported, "Code.ImageUri", "container images are not supported")
	case f.Code.ZipFile != nil:
		m.fail(ErrUnsupported, "Code.ZipFile", "inline code is not supported; put it in a file and set Code to its directory")
	case f.Code.S3Bucket != nil || f.Code.S3Key != nil:
		m.fail(ErrUnsupported, "Code.S3Bucket", "code in S3 is not supported; set Code to the local directory")
	default:
		m.fail(ErrInvalid, "Code", "names no code")
	}
	var env map[string]string
	if f.Environment != nil {
		env = f.Environment.Variables
	}
	return m.function(f.Runtime, f.Handler, codeDir, f.MemorySize, f.Timeout, f.ReservedConcurrentExecutions, env)
}

// refuseImage reports a container-image function, whose other properties
// then do not matter, and says whether it did.
func (m *mapper) refuseImage(packageType, imageURI *string) bool {
	switch {
	case packageType != nil && *packageType == "Image":
		m.fail(ErrUnsupported, "PackageType", "Image: container images are not supported, only Zip functions")
	case imageURI != nil:
		m.fail(ErrUnsupported, "ImageUri", "container images are not supported")
	default:
		return false
	}
	return true
}

func (m *mapper) refuseLayers(layers []string) {
	if len(layers) > 0 {
		m.fail(ErrUnsupported, "Layers", "layers are not supported (thaw has no /opt); bundle %s with the code", strings.Join(layers, ", "))
	}
}

// localCode resolves a code path against the template's directory and
// checks that it is a local directory or file.
func (m *mapper) localCode(property, uri string) string {
	switch {
	case strings.HasPrefix(uri, "s3://"):
		m.fail(ErrUnsupported, property, "%s is in S3; point %s at the local directory", uri, property)
		return ""
	case strings.HasSuffix(strings.ToLower(uri), ".zip"):
		m.fail(ErrUnsupported, property, "%s is a zip archive; point %s at the unpacked directory", uri, property)
		return ""
	}
	path := uri
	if !filepath.IsAbs(path) {
		path = filepath.Join(m.dir, path)
	}
	if _, err := os.Stat(path); err != nil {
		m.fail(ErrInvalid, property, "%v", err)
		return ""
	}
	return path
}

// Runtime names, and the thaw runtime each maps to.
var (
	nodeRuntimes     = regexp.MustCompile(`^nodejs(18|20|22|24)\.x$`)
	pythonRuntimes   = regexp.MustCompile(`^python3\.\d+$`)
	providedRuntimes = map[string]bool{"provided": true, "provided.al2": true, "provided.al2023": true, "go1.x": true}
)

// function assembles the thaw function from the decoded properties.
func (m *mapper) function(runtime, handler *string, codeDir string, memory, timeout, reserved *int, env map[string]string) thawlambda.Function {
	fn := thawlambda.Function{Name: m.id, Code: codeDir, Env: env}
	if handler != nil {
		fn.Handler = *handler
	}
	switch {
	case runtime == nil:
		m.fail(ErrInvalid, "Runtime", "is required")
	case nodeRuntimes.MatchString(*runtime):
		fn.Runtime = thawlambda.RuntimeNodeJS
	case pythonRuntimes.MatchString(*runtime):
		fn.Runtime = thawlambda.RuntimePython
	case providedRuntimes[*runtime]:
		fn.Runtime = thawlambda.RuntimeProvided
		if *runtime == "go1.x" && codeDir != "" && fn.Handler != "" {
			// go1.x runs the executable the handler names.
			fn.Code = filepath.Join(codeDir, fn.Handler)
		}
	default:
		m.fail(ErrUnsupported, "Runtime", "%s is not supported; thaw runs nodejs18.x to nodejs24.x, python3.x, provided, provided.al2, provided.al2023 and go1.x", *runtime)
	}
	if fn.Handler == "" && (fn.Runtime == thawlambda.RuntimeNodeJS || fn.Runtime == thawlambda.RuntimePython) {
		m.fail(ErrInvalid, "Handler", "is required for %s", *runtime)
	}
	if memory != nil {
		fn.MemoryMB = *memory
	}
	if timeout != nil {
		fn.Timeout = time.Duration(*timeout) * time.Second
	}
	if reserved != nil {
		if *reserved == 0 {
			m.fail(ErrUnsupported, "ReservedConcurrentExecutions", "0 throttles every invocation; remove it or give at least 1")
		}
		fn.Concurrency = *reserved
	}
	return fn
}

// normalize makes the properties thaw reads decodable: numbers given as
// strings (a parameter's Default is often one) become numbers, environment
// values become strings, and unresolved values are reported.
func (m *mapper) normalize(props map[string]any) bool {
	ok := true
	for _, name := range []string{"MemorySize", "Timeout", "ReservedConcurrentExecutions"} {
		v, present := props[name]
		if !present {
			continue
		}
		switch v := v.(type) {
		case float64:
			if v != float64(int(v)) {
				m.fail(ErrInvalid, name, "%v is not a whole number", v)
				ok = false
			}
		case string:
			n, err := strconv.Atoi(v)
			if err != nil {
				m.fail(ErrInvalid, name, "%q is not a whole number", v)
				ok = false
				continue
			}
			props[name] = n
		case nil:
			m.fail(ErrUnsupported, name, "its value needs a deployed stack (Fn::GetAtt, Fn::ImportValue or a parameter without a Default)")
			ok = false
		default:
			m.fail(ErrInvalid, name, "%v is not a number", v)
			ok = false
		}
	}
	for _, name := range []string{"Runtime", "Handler", "CodeUri", "PackageType"} {
		if v, present := props[name]; present && v == nil {
			m.fail(ErrUnsupported, name, "its value needs a deployed stack (Fn::GetAtt, Fn::ImportValue or a parameter without a Default)")
			ok = false
		}
	}
	env, _ := props["Environment"].(map[string]any)
	if vars, isMap := env["Variables"].(map[string]any); isMap {
		for k, v := range vars {
			switch v := v.(type) {
			case string:
			case float64:
				vars[k] = strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				vars[k] = strconv.FormatBool(v)
			default:
				m.warn("environment variable %s left out: its value needs a deployed stack", k)
				delete(vars, k)
			}
		}
	}
	return ok
}

// mergeGlobals applies a Globals section to a function's properties as SAM
// does: maps merge key by key, lists are the global items then the
// function's, and any other value of the function replaces the global one.
func mergeGlobals(globals, props map[string]any) map[string]any {
	merged := map[string]any{}
	for k, v := range globals {
		merged[k] = v
	}
	for k, v := range props {
		merged[k] = mergeValue(merged[k], v)
	}
	return merged
}

func mergeValue(global, local any) any {
	switch l := local.(type) {
	case map[string]any:
		if g, ok := global.(map[string]any); ok {
			return mergeGlobals(g, l)
		}
	case []any:
		if g, ok := global.([]any); ok {
			return append(append([]any{}, g...), l...)
		}
	}
	return local
}
