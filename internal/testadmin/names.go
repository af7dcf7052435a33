package testadmin

import (
	"fmt"
	"strings"
	"unicode"

	"google.golang.org/grpc/codes"
)

// RPCName is the name momento-local's metadata uses for a gRPC method:
// "/cache_client.Scs/SetIf" is "set-if" and the pubsub service's Publish and
// Subscribe are "topic-publish" and "topic-subscribe".
func RPCName(fullMethod string) string {
	service, method := splitMethod(fullMethod)
	name := kebab(method)
	if service == "Pubsub" {
		name = "topic-" + name
	}
	return name
}

// rpcAliases lists the extra names a method answers to, following the SDKs'
// tables: SetIfNotExists is sent as set-if and ListErase as list-remove.
var rpcAliases = map[string]string{
	"set-if-not-exists": "set-if",
	"list-erase":        "list-remove",
}

// rpcNames returns every name under which fullMethod can be listed.
func rpcNames(fullMethod string) []string {
	name := RPCName(fullMethod)
	if alias, ok := rpcAliases[name]; ok {
		return []string{name, alias}
	}
	return []string{name}
}

// splitMethod splits "/pkg.Service/Method" into "Service" and "Method".
func splitMethod(fullMethod string) (service, method string) {
	s := strings.TrimPrefix(fullMethod, "/")
	svc, m, ok := strings.Cut(s, "/")
	if !ok {
		return "", s
	}
	if i := strings.LastIndexByte(svc, '.'); i >= 0 {
		svc = svc[i+1:]
	}
	return svc, m
}

// kebab turns a CamelCase identifier into lower-case words joined by hyphens:
// ItemGetTtl is item-get-ttl. A run of capitals counts as one word.
func kebab(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('-')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// listContains reports whether the space- or comma-separated list holds any
// of names.
func listContains(list string, names []string) bool {
	for _, item := range strings.FieldsFunc(list, func(r rune) bool {
		return r == ',' || unicode.IsSpace(r)
	}) {
		for _, n := range names {
			if strings.EqualFold(item, n) {
				return true
			}
		}
	}
	return false
}

// errorCodes maps momento-local's error names, and the SDKs' MomentoErrorCode
// names that some test middlewares send unconverted, to gRPC codes. Keys are
// normalised: lower case, hyphens for underscores.
var errorCodes = map[string]codes.Code{
	"invalid-argument":    codes.InvalidArgument,
	"unknown":             codes.Unknown,
	"already-exists":      codes.AlreadyExists,
	"not-found":           codes.NotFound,
	"internal":            codes.Internal,
	"permission-denied":   codes.PermissionDenied,
	"unauthenticated":     codes.Unauthenticated,
	"cancelled":           codes.Canceled,
	"canceled":            codes.Canceled,
	"unavailable":         codes.Unavailable,
	"resource-exhausted":  codes.ResourceExhausted,
	"deadline-exceeded":   codes.DeadlineExceeded,
	"failed-precondition": codes.FailedPrecondition,

	"invalid-argument-error":     codes.InvalidArgument,
	"bad-request-error":          codes.InvalidArgument,
	"unknown-service-error":      codes.Unknown,
	"unknown-error":              codes.Unknown,
	"already-exists-error":       codes.AlreadyExists,
	"cache-already-exists-error": codes.AlreadyExists,
	"store-already-exists-error": codes.AlreadyExists,
	"not-found-error":            codes.NotFound,
	"cache-not-found-error":      codes.NotFound,
	"store-not-found-error":      codes.NotFound,
	"store-item-not-found-error": codes.NotFound,
	"internal-server-error":      codes.Internal,
	"permission-error":           codes.PermissionDenied,
	"authentication-error":       codes.Unauthenticated,
	"cancelled-error":            codes.Canceled,
	"connection-error":           codes.Unavailable,
	"server-unavailable":         codes.Unavailable,
	"limit-exceeded-error":       codes.ResourceExhausted,
	"client-resource-exhausted":  codes.ResourceExhausted,
	"timeout-error":              codes.DeadlineExceeded,
	"failed-precondition-error":  codes.FailedPrecondition,
}

// parseErrorName returns the gRPC code that an error name stands for.
func parseErrorName(name string) (codes.Code, error) {
	key := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-")
	c, ok := errorCodes[key]
	if !ok {
		return codes.OK, fmt.Errorf("%w %q", errUnknownErrorName, name)
	}
	return c, nil
}
