package testadmin

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
)

func TestRPCName(t *testing.T) {
	tests := []struct {
		method string
		want   string
	}{
		{"/cache_client.Scs/Get", "get"},
		{"/cache_client.Scs/Set", "set"},
		{"/cache_client.Scs/SetIf", "set-if"},
		{"/cache_client.Scs/SetIfNotExists", "set-if-not-exists"},
		{"/cache_client.Scs/Delete", "delete"},
		{"/cache_client.Scs/Increment", "increment"},
		{"/cache_client.Scs/GetBatch", "get-batch"},
		{"/cache_client.Scs/SetBatch", "set-batch"},
		{"/cache_client.Scs/KeysExist", "keys-exist"},
		{"/cache_client.Scs/UpdateTtl", "update-ttl"},
		{"/cache_client.Scs/ItemGetTtl", "item-get-ttl"},
		{"/cache_client.Scs/ItemGetType", "item-get-type"},
		{"/cache_client.Scs/DictionarySet", "dictionary-set"},
		{"/cache_client.Scs/ListPushFront", "list-push-front"},
		{"/cache_client.Scs/ListConcatenateBack", "list-concatenate-back"},
		{"/cache_client.Scs/SortedSetPut", "sorted-set-put"},
		{"/cache_client.Scs/SortedSetLengthByScore", "sorted-set-length-by-score"},
		{"/cache_client.pubsub.Pubsub/Publish", "topic-publish"},
		{"/cache_client.pubsub.Pubsub/Subscribe", "topic-subscribe"},
		{"/control_client.ScsControl/CreateCache", "create-cache"},
		{"/grpc.health.v1.Health/Check", "check"},
		{"/x.Svc/GetHTTPStatus", "get-http-status"},
		{"/x.Svc/PublishV2", "publish-v2"},
	}
	for _, tt := range tests {
		if got := RPCName(tt.method); got != tt.want {
			t.Errorf("RPCName(%q) = %q, want %q", tt.method, got, tt.want)
		}
	}
}

func TestRPCNamesAliases(t *testing.T) {
	tests := []struct {
		method string
		want   []string
	}{
		{"/cache_client.Scs/SetIfNotExists", []string{"set-if-not-exists", "set-if"}},
		{"/cache_client.Scs/ListErase", []string{"list-erase", "list-remove"}},
		{"/cache_client.Scs/ListRemove", []string{"list-remove"}},
		{"/cache_client.Scs/Get", []string{"get"}},
	}
	for _, tt := range tests {
		if got := rpcNames(tt.method); !slices.Equal(got, tt.want) {
			t.Errorf("rpcNames(%q) = %q, want %q", tt.method, got, tt.want)
		}
	}
}

func TestListContains(t *testing.T) {
	tests := []struct {
		list  string
		names []string
		want  bool
	}{
		{"get set", []string{"get"}, true},
		{"get set", []string{"set"}, true},
		{"set-if", []string{"set"}, false},
		{"get-batch", []string{"get"}, false},
		{"  get\tset  ", []string{"set"}, true},
		{"get,set", []string{"set"}, true},
		{"GET", []string{"get"}, true},
		{"", []string{"get"}, false},
		{"set-if", []string{"set-if-not-exists", "set-if"}, true},
	}
	for _, tt := range tests {
		if got := listContains(tt.list, tt.names); got != tt.want {
			t.Errorf("listContains(%q, %q) = %v, want %v", tt.list, tt.names, got, tt.want)
		}
	}
}

func TestParseErrorName(t *testing.T) {
	tests := []struct {
		name string
		want codes.Code
	}{
		{"invalid-argument", codes.InvalidArgument},
		{"unknown", codes.Unknown},
		{"already-exists", codes.AlreadyExists},
		{"not-found", codes.NotFound},
		{"internal", codes.Internal},
		{"permission-denied", codes.PermissionDenied},
		{"unauthenticated", codes.Unauthenticated},
		{"cancelled", codes.Canceled},
		{"unavailable", codes.Unavailable},
		{"resource-exhausted", codes.ResourceExhausted},
		{"deadline-exceeded", codes.DeadlineExceeded},
		{"failed-precondition", codes.FailedPrecondition},
		{"UNAVAILABLE", codes.Unavailable},
		{"deadline_exceeded", codes.DeadlineExceeded},
		{"SERVER_UNAVAILABLE", codes.Unavailable},
		{"CACHE_NOT_FOUND_ERROR", codes.NotFound},
		{"TIMEOUT_ERROR", codes.DeadlineExceeded},
	}
	for _, tt := range tests {
		got, err := parseErrorName(tt.name)
		if err != nil || got != tt.want {
			t.Errorf("parseErrorName(%q) = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	if _, err := parseErrorName("teapot"); !errors.Is(err, errUnknownErrorName) {
		t.Errorf("parseErrorName(%q) error = %v, want %v", "teapot", err, errUnknownErrorName)
	}
}
