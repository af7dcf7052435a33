package client_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/server"
)

// This file holds what the collection tests (dictionary_test.go,
// set_test.go, list_test.go, sorted_set_test.go) share: a real server with
// fault injection, and the checks every collection type goes through: the
// CollectionTTL rules, FAILED_PRECONDITION on a key of another type, and the
// retry class of every call.

// binary is a value that is not valid UTF-8 and holds a NUL byte.
var binary = []byte{0, 0xff, 0xfe, '\n', 0}

// newCollectionClient starts a server with the test admin (for fault
// injection) and returns a Laptop client connected to it; the cache is "c".
func newCollectionClient(t *testing.T) *client.Client {
	t.Helper()
	srv := startServer(t, server.Config{EnableTestAdmin: true})
	return newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
}

// sortedBytes returns a sorted copy of vs, to compare unordered results.
func sortedBytes(vs [][]byte) [][]byte {
	out := slices.Clone(vs)
	slices.SortFunc(out, bytes.Compare)
	return out
}

// collectionWrite writes to the collection under key with ttl.
type collectionWrite func(ctx context.Context, key []byte, ttl client.CollectionTTL) error

// ttlCase is a write whose CollectionTTL handling checkCollectionTTL checks.
type ttlCase struct {
	name  string
	write collectionWrite
	// existingOnly marks a write that never creates a collection
	// (ListRetain): only its refresh rules are checked.
	existingOnly bool
}

// checkCollectionTTL checks the CollectionTTL rules of every write in cases,
// with seed creating the collection: a write that creates the collection
// gives it its TTL even without refresh; on an existing collection, refresh
// resets the expiry (here shortening it) and no refresh leaves it; the zero
// CollectionTTL is Config.DefaultTTL with refresh. The server keeps time in
// milliseconds, so the bounds allow a minute of slack and no sleep is needed.
func checkCollectionTTL(t *testing.T, c *client.Client, seed collectionWrite, cases []ttlCase) {
	t.Helper()
	const long, short = time.Hour, 10 * time.Minute
	ctx := t.Context()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, key []byte, want time.Duration) {
				t.Helper()
				got, found, err := c.ItemTTL(ctx, "c", key)
				if err != nil || !found || got > want || got <= want-time.Minute {
					t.Errorf("%s: ItemTTL(%q) = %v, %v, %v; want found, in (%v, %v]", what, key, got, found, err, want-time.Minute, want)
				}
			}
			seeded := func(prefix string) []byte {
				t.Helper()
				key := []byte(prefix + tc.name)
				if err := seed(ctx, key, client.CollectionTTLOf(long)); err != nil {
					t.Fatalf("seed %q with TTL %v: %v", key, long, err)
				}
				return key
			}
			write := func(key []byte, ttl client.CollectionTTL) {
				t.Helper()
				if err := tc.write(ctx, key, ttl); err != nil {
					t.Fatalf("%s(%q, %v): %v", tc.name, key, ttl, err)
				}
			}

			if !tc.existingOnly {
				key := []byte("ttl-create-" + tc.name)
				write(key, client.CollectionTTLOf(short).WithNoRefreshTTLOnUpdates())
				check("creating with no refresh", key, short)
			}
			key := seeded("ttl-refresh-")
			write(key, client.CollectionTTLOf(short))
			check("refresh on an existing collection", key, short)

			key = seeded("ttl-no-refresh-")
			write(key, client.CollectionTTLOf(short).WithNoRefreshTTLOnUpdates())
			check("no refresh on an existing collection", key, long)

			key = seeded("ttl-default-")
			write(key, client.DefaultCollectionTTL())
			check("default CollectionTTL", key, client.Laptop().DefaultTTL)
		})
	}
}

// seedKinds stores one item of every kind and returns their keys.
func seedKinds(t *testing.T, c *client.Client) map[client.ItemType][]byte {
	t.Helper()
	ctx := t.Context()
	keys := map[client.ItemType][]byte{
		client.ItemScalar:     []byte("kind-scalar"),
		client.ItemDictionary: []byte("kind-dictionary"),
		client.ItemSet:        []byte("kind-set"),
		client.ItemList:       []byte("kind-list"),
		client.ItemSortedSet:  []byte("kind-sorted-set"),
	}
	var ttl client.CollectionTTL
	errs := []error{
		c.Set(ctx, "c", keys[client.ItemScalar], []byte("v"), 0),
		c.DictionarySetFields(ctx, "c", keys[client.ItemDictionary], map[string][]byte{"f": []byte("v")}, ttl),
		c.SetAddElements(ctx, "c", keys[client.ItemSet], [][]byte{[]byte("e")}, ttl),
		c.SortedSetPutElements(ctx, "c", keys[client.ItemSortedSet], []client.SortedSetElement{{Value: []byte("e"), Score: 1}}, ttl),
	}
	_, err := c.ListPushBack(ctx, "c", keys[client.ItemList], []byte("e"), client.ListPushOptions{})
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("seeding one item of each kind: %v", err)
	}
	return keys
}

// checkWrongType runs every call on the keys of every kind of item but own
// and checks that it fails with ErrFailedPrecondition and leaves the item as
// it was.
func checkWrongType(t *testing.T, c *client.Client, own client.ItemType, calls map[string]func(ctx context.Context, key []byte) error) {
	t.Helper()
	ctx := t.Context()
	keys := seedKinds(t, c)
	for kind, key := range keys {
		if kind == own {
			continue
		}
		for name, call := range calls {
			if err := call(ctx, key); !errors.Is(err, client.ErrFailedPrecondition) {
				t.Errorf("%s on a %v = %v; want ErrFailedPrecondition", name, kind, err)
			}
		}
		if got, found, err := c.ItemType(ctx, "c", key); err != nil || !found || got != kind {
			t.Errorf("ItemType(%q) after the calls = %v, %v, %v; want %v unchanged", key, got, found, err, kind)
		}
	}
}

// retryCase is a call whose retry class checkRetries checks.
type retryCase struct {
	// rpc is the gRPC method's name for the server's fault injection
	// (kebab case, such as dictionary-get).
	rpc  string
	call func(ctx context.Context) error
	// idempotent calls are retried after UNAVAILABLE; the others are sent
	// once and report it.
	idempotent bool
}

// checkRetries makes the first attempts of every call fail with UNAVAILABLE
// (the server's fault injection) and checks that idempotent calls are
// retried, up to the Laptop preset's MaxAttempts (3), while the others fail
// with ErrUnavailable at once.
func checkRetries(t *testing.T, cases map[string]retryCase) {
	t.Helper()
	failing := func(name string, tc retryCase, failures string) error {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "request-id", t.Name()+"/"+name+"/"+failures,
			"return-error", "unavailable", "error-rpcs", tc.rpc, "error-count", failures)
		return tc.call(ctx)
	}
	for name, tc := range cases {
		err := failing(name, tc, "1")
		switch {
		case tc.idempotent && err != nil:
			t.Errorf("%s failing once with UNAVAILABLE = %v; want it retried and nil", name, err)
		case !tc.idempotent && !errors.Is(err, client.ErrUnavailable):
			t.Errorf("%s failing once with UNAVAILABLE = %v; want ErrUnavailable (never retried)", name, err)
		}
		if !tc.idempotent {
			continue
		}
		// Failing every attempt shows that the faults reach this RPC, so
		// that the success above was a retry.
		if err := failing(name, tc, "3"); !errors.Is(err, client.ErrUnavailable) {
			t.Errorf("%s failing 3 times with UNAVAILABLE = %v; want ErrUnavailable after 3 attempts", name, err)
		}
	}
}

func TestCollectionTTLConstructors(t *testing.T) {
	cases := []struct {
		name string
		got  client.CollectionTTL
		want client.CollectionTTL
	}{
		{"DefaultCollectionTTL", client.DefaultCollectionTTL(), client.CollectionTTL{}},
		{"CollectionTTLOf", client.CollectionTTLOf(time.Hour), client.CollectionTTL{TTL: time.Hour}},
		{"WithNoRefreshTTLOnUpdates", client.CollectionTTLOf(time.Hour).WithNoRefreshTTLOnUpdates(), client.CollectionTTL{TTL: time.Hour, NoRefresh: true}},
		{"WithRefreshTTLOnUpdates", client.CollectionTTL{NoRefresh: true}.WithRefreshTTLOnUpdates(), client.CollectionTTL{}},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s = %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
	if got, want := client.CollectionTTLOf(time.Minute).WithNoRefreshTTLOnUpdates().String(), "1m0s no refresh"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := client.DefaultCollectionTTL().String(), "default refresh"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestIndexRangeString(t *testing.T) {
	cases := []struct {
		r    client.IndexRange
		want string
	}{
		{client.AllIndices(), "[:]"},
		{client.IndexRange{}, "[:]"},
		{client.IndexSlice(2, 4), "[2:4]"},
		{client.IndexSlice(0, -1), "[:-1]"},
		{client.IndexFrom(-5), "[-5:]"},
		{client.IndexSlice(1<<40, -(1 << 40)), "[2147483647:-2147483648]"},
	}
	for _, tc := range cases {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// TestCollectionsClientSideChecks covers the arguments the client refuses
// without a round trip.
func TestCollectionsClientSideChecks(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: a call that reached the network would fail
	// with ErrUnavailable or ErrTimeout, not ErrInvalidArgument.
	cfg := client.Laptop()
	cfg.Timeout = 300 * time.Millisecond
	c := newClient(t, cfg, client.LocalCredentials("127.0.0.1:1"))
	ctx := t.Context()
	key := []byte("k")
	negative := client.CollectionTTLOf(-time.Second)
	cases := map[string]error{
		"DictionarySetFields(negative TTL)": c.DictionarySetFields(ctx, "c", key, map[string][]byte{"f": nil}, negative),
		"SetAddElements(negative TTL)":      c.SetAddElements(ctx, "c", key, [][]byte{key}, negative),
		"ListRetain(negative TTL)":          c.ListRetain(ctx, "c", key, client.AllIndices(), negative),
		"ListErase(negative start)":         c.ListErase(ctx, "c", key, []client.ListSpan{{Start: -1, Count: 1}}),
		"ListErase(negative count)":         c.ListErase(ctx, "c", key, []client.ListSpan{{Start: 0, Count: -1}}),
		"SortedSetPutElements(negative TTL)": c.SortedSetPutElements(ctx, "c", key,
			[]client.SortedSetElement{{Value: key}}, negative),
		"DictionaryGetField(empty cache name)": func() error { _, _, err := c.DictionaryGetField(ctx, "", key, key); return err }(),
		"DictionaryIncrement(negative TTL)": func() error {
			_, err := c.DictionaryIncrement(ctx, "c", key, key, 1, negative)
			return err
		}(),
		"SetSample(-1)": func() error { _, _, err := c.SetSample(ctx, "c", key, -1); return err }(),
		"SetPop(0)":     func() error { _, _, err := c.SetPop(ctx, "c", key, 0); return err }(),
		"ListPushFront(TruncateToSize -1)": func() error {
			_, err := c.ListPushFront(ctx, "c", key, key, client.ListPushOptions{TruncateToSize: -1})
			return err
		}(),
		"ListConcatenateBack(negative TTL)": func() error {
			_, err := c.ListConcatenateBack(ctx, "c", key, [][]byte{key}, client.ListPushOptions{TTL: negative})
			return err
		}(),
		"SortedSetFetchByScore(Offset -1)": func() error {
			_, _, err := c.SortedSetFetchByScore(ctx, "c", key, client.ScoreQuery{Offset: -1})
			return err
		}(),
		"SortedSetIncrementScore(negative TTL)": func() error {
			_, err := c.SortedSetIncrementScore(ctx, "c", key, key, 1, negative)
			return err
		}(),
		"SortedSetUnionStore(unknown aggregate)": func() error {
			_, err := c.SortedSetUnionStore(ctx, "c", key, []client.SortedSetSource{{Name: key, Weight: 1}}, client.Aggregate(9), 0)
			return err
		}(),
		"SortedSetUnionStore(negative TTL)": func() error {
			_, err := c.SortedSetUnionStore(ctx, "c", key, []client.SortedSetSource{{Name: key, Weight: 1}}, client.AggregateSum, -time.Second)
			return err
		}(),
		"SetIfHash(zero condition)": func() error {
			_, _, err := c.SetIfHash(ctx, "c", key, key, 0, client.HashCondition{})
			return err
		}(),
		"SetWithHash(negative TTL)": func() error { _, err := c.SetWithHash(ctx, "c", key, key, -time.Second); return err }(),
	}
	for name, err := range cases {
		if !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("%s = %v; want ErrInvalidArgument", name, err)
		}
	}
}

// TestCollectionsAfterGap checks that freeze-aware recovery treats the
// collection calls by their retry class: after a gap, an idempotent call is
// sent with a short probe deadline, and a non-idempotent one is preceded by
// a Ping and sent once.
func TestCollectionsAfterGap(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{})
	c, clock, trace := recoveryClient(t, srv.Addr(), nil)
	var ttl client.CollectionTTL
	l := []byte("after-gap")
	calls := []struct {
		op     string
		call   func(ctx context.Context) error
		action string // a word of the idle gap event's action
	}{
		{"ListPushBack", func(ctx context.Context) error {
			_, err := c.ListPushBack(ctx, "c", l, []byte("v"), client.ListPushOptions{})
			return err
		}, "ping"},
		{"ListFetch", func(ctx context.Context) error {
			_, _, err := c.ListFetch(ctx, "c", l, client.AllIndices())
			return err
		}, "first attempt"},
		{"DictionaryIncrement", func(ctx context.Context) error {
			_, err := c.DictionaryIncrement(ctx, "c", []byte("after-gap-d"), []byte("n"), 1, ttl)
			return err
		}, "ping"},
		{"SetAddElements", func(ctx context.Context) error {
			return c.SetAddElements(ctx, "c", []byte("after-gap-s"), [][]byte{l}, ttl)
		}, "first attempt"},
		{"SortedSetUnionStore", func(ctx context.Context) error {
			_, err := c.SortedSetUnionStore(ctx, "c", []byte("after-gap-u"), []client.SortedSetSource{{Name: []byte("after-gap-z"), Weight: 1}}, client.AggregateSum, 0)
			return err
		}, "ping"},
		{"GetWithHash", func(ctx context.Context) error {
			_, _, _, err := c.GetWithHash(ctx, "c", []byte("after-gap-h"))
			return err
		}, "first attempt"},
		{"SetIfHash", func(ctx context.Context) error {
			_, _, err := c.SetIfHash(ctx, "c", []byte("after-gap-h"), l, 0, client.IfAbsentOrHashEqual(nil))
			return err
		}, "ping"},
	}
	for _, tc := range calls {
		clock.Advance(3 * time.Second)
		since := time.Now()
		if err := tc.call(t.Context()); err != nil {
			t.Errorf("%s after a gap: %v", tc.op, err)
		}
		gaps := trace.events(client.EventIdleGap, since)
		if len(gaps) != 1 || gaps[0].attrs["op"] != tc.op || !strings.Contains(gaps[0].attrs["action"], tc.action) {
			t.Errorf("idle gap events for %s = %v; want one whose action says %q", tc.op, gaps, tc.action)
		}
	}
}
