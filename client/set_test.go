package client_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/thaw-dev/thaw/client"
)

func TestSetCollection(t *testing.T) {
	t.Parallel()
	c := newCollectionClient(t)

	t.Run("operations", func(t *testing.T) {
		ctx := t.Context()
		s := []byte("set")
		var ttl client.CollectionTTL
		a, z := []byte("a"), []byte("z")

		if els, found, err := c.SetFetch(ctx, "c", s); err != nil || found || els != nil {
			t.Errorf("SetFetch(missing) = %q, %v, %v; want nil, not found", els, found, err)
		}
		if n, found, err := c.SetLength(ctx, "c", s); err != nil || found || n != 0 {
			t.Errorf("SetLength(missing) = %d, %v, %v; want 0, not found", n, found, err)
		}
		if got, found, err := c.SetContainsElements(ctx, "c", s, [][]byte{a, z}); err != nil || found || !slices.Equal(got, []bool{false, false}) {
			t.Errorf("SetContainsElements(missing) = %v, %v, %v; want [false false], not found", got, found, err)
		}
		if els, found, err := c.SetSample(ctx, "c", s, 3); err != nil || found || els != nil {
			t.Errorf("SetSample(missing) = %q, %v, %v; want nil, not found", els, found, err)
		}
		if els, found, err := c.SetPop(ctx, "c", s, 1); err != nil || found || els != nil {
			t.Errorf("SetPop(missing) = %q, %v, %v; want nil, not found", els, found, err)
		}
		if err := c.SetRemoveElements(ctx, "c", s, [][]byte{a}); err != nil {
			t.Errorf("SetRemoveElements(missing) = %v; want nil", err)
		}

		if err := c.SetAddElements(ctx, "c", s, [][]byte{a, binary, {}, a}, ttl); err != nil {
			t.Fatalf("SetAddElements: %v", err)
		}
		if err := c.SetAddElements(ctx, "c", s, [][]byte{a}, ttl); err != nil {
			t.Fatalf("SetAddElements(present element): %v", err)
		}
		want := sortedBytes([][]byte{{}, a, binary})
		els, found, err := c.SetFetch(ctx, "c", s)
		if err != nil || !found {
			t.Errorf("SetFetch = %v, %v; want found", found, err)
		} else if diff := cmp.Diff(want, sortedBytes(els)); diff != "" {
			t.Errorf("SetFetch (-want +got):\n%s", diff)
		}
		if n, found, err := c.SetLength(ctx, "c", s); err != nil || !found || n != 3 {
			t.Errorf("SetLength = %d, %v, %v; want 3 (duplicates kept once)", n, found, err)
		}
		if got, found, err := c.SetContainsElements(ctx, "c", s, [][]byte{a, z, {}, binary}); err != nil || !found || !slices.Equal(got, []bool{true, false, true, true}) {
			t.Errorf("SetContainsElements(a, z, empty, binary) = %v, %v, %v; want [true false true true]", got, found, err)
		}
		if typ, found, err := c.ItemType(ctx, "c", s); err != nil || !found || typ != client.ItemSet {
			t.Errorf("ItemType = %v, %v, %v; want set", typ, found, err)
		}

		samples := []struct {
			limit, want int
		}{{0, 0}, {2, 2}, {3, 3}, {10, 3}}
		for _, tc := range samples {
			got, found, err := c.SetSample(ctx, "c", s, tc.limit)
			if err != nil || !found || len(got) != tc.want {
				t.Errorf("SetSample(%d) = %q, %v, %v; want %d elements, found", tc.limit, got, found, err, tc.want)
				continue
			}
			got = sortedBytes(got)
			for i, e := range got {
				if i > 0 && bytes.Equal(e, got[i-1]) || !slices.ContainsFunc(want, func(w []byte) bool { return bytes.Equal(w, e) }) {
					t.Errorf("SetSample(%d) = %q; want distinct members of %q", tc.limit, got, want)
				}
			}
		}
		if n, _, err := c.SetLength(ctx, "c", s); err != nil || n != 3 {
			t.Errorf("SetLength after SetSample = %d, %v; want 3 (sampling changes nothing)", n, err)
		}

		if err := c.SetRemoveElements(ctx, "c", s, [][]byte{a, z}); err != nil {
			t.Fatalf("SetRemoveElements: %v", err)
		}
		if n, _, err := c.SetLength(ctx, "c", s); err != nil || n != 2 {
			t.Errorf("SetLength after removing a and a missing element = %d, %v; want 2", n, err)
		}
		popped, found, err := c.SetPop(ctx, "c", s, 1)
		if err != nil || !found || len(popped) != 1 {
			t.Fatalf("SetPop(1) = %q, %v, %v; want one element", popped, found, err)
		}
		rest, found, err := c.SetPop(ctx, "c", s, 5)
		if err != nil || !found || len(rest) != 1 {
			t.Fatalf("SetPop(5) on one element = %q, %v, %v; want the last element", rest, found, err)
		}
		if diff := cmp.Diff([][]byte{{}, binary}, sortedBytes(append(popped, rest...))); diff != "" {
			t.Errorf("SetPop popped (-want +got):\n%s", diff)
		}
		if els, found, err := c.SetPop(ctx, "c", s, 1); err != nil || found {
			t.Errorf("SetPop on an emptied set = %q, %v, %v; want not found (deleted)", els, found, err)
		}
		if exists, err := c.KeysExist(ctx, "c", [][]byte{s}); err != nil || exists[0] {
			t.Errorf("KeysExist after popping every element = %v, %v; want [false]", exists, err)
		}

		if err := c.SetAddElements(ctx, "c", s, [][]byte{a, z}, ttl); err != nil {
			t.Fatal(err)
		}
		if err := c.SetRemoveElements(ctx, "c", s, [][]byte{a, z}); err != nil {
			t.Fatal(err)
		}
		if _, found, err := c.SetFetch(ctx, "c", s); err != nil || found {
			t.Errorf("SetFetch after removing every element = %v, %v; want not found", found, err)
		}
		if err := c.SetAddElements(ctx, "c", s, [][]byte{a, z}, ttl); err != nil {
			t.Fatal(err)
		}
		if err := c.SetDelete(ctx, "c", s); err != nil {
			t.Fatalf("SetDelete: %v", err)
		}
		if _, found, err := c.SetFetch(ctx, "c", s); err != nil || found {
			t.Errorf("SetFetch after SetDelete = %v, %v; want not found", found, err)
		}
		if err := c.SetDelete(ctx, "c", s); err != nil {
			t.Errorf("SetDelete(missing) = %v; want nil", err)
		}
		if _, _, err := c.SetFetch(ctx, "nope", s); !errors.Is(err, client.ErrCacheNotFound) {
			t.Errorf("SetFetch(missing cache) = %v; want ErrCacheNotFound", err)
		}
	})

	t.Run("TTL", func(t *testing.T) {
		seed := func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
			return c.SetAddElements(ctx, "c", key, [][]byte{[]byte("seed")}, ttl)
		}
		checkCollectionTTL(t, c, seed, []ttlCase{
			{name: "SetAddElements", write: func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
				return c.SetAddElements(ctx, "c", key, [][]byte{[]byte("new")}, ttl)
			}},
			{name: "SetAddElements unchanged", write: seed},
		})
	})

	t.Run("wrong type", func(t *testing.T) {
		var ttl client.CollectionTTL
		e := [][]byte{[]byte("e")}
		checkWrongType(t, c, client.ItemSet, map[string]func(context.Context, []byte) error{
			"SetFetch":          func(ctx context.Context, k []byte) error { _, _, err := c.SetFetch(ctx, "c", k); return err },
			"SetAddElements":    func(ctx context.Context, k []byte) error { return c.SetAddElements(ctx, "c", k, e, ttl) },
			"SetRemoveElements": func(ctx context.Context, k []byte) error { return c.SetRemoveElements(ctx, "c", k, e) },
			"SetDelete":         func(ctx context.Context, k []byte) error { return c.SetDelete(ctx, "c", k) },
			"SetContainsElements": func(ctx context.Context, k []byte) error {
				_, _, err := c.SetContainsElements(ctx, "c", k, e)
				return err
			},
			"SetLength": func(ctx context.Context, k []byte) error { _, _, err := c.SetLength(ctx, "c", k); return err },
			"SetSample": func(ctx context.Context, k []byte) error { _, _, err := c.SetSample(ctx, "c", k, 1); return err },
			"SetPop":    func(ctx context.Context, k []byte) error { _, _, err := c.SetPop(ctx, "c", k, 1); return err },
		})
	})

	t.Run("retries", func(t *testing.T) {
		var ttl client.CollectionTTL
		s, e := []byte("retried"), [][]byte{[]byte("e")}
		checkRetries(t, map[string]retryCase{
			"SetFetch": {"set-fetch", func(ctx context.Context) error { _, _, err := c.SetFetch(ctx, "c", s); return err }, true},
			"SetAddElements": {"set-union", func(ctx context.Context) error {
				return c.SetAddElements(ctx, "c", s, e, ttl)
			}, true},
			"SetRemoveElements": {"set-difference", func(ctx context.Context) error {
				return c.SetRemoveElements(ctx, "c", s, [][]byte{[]byte("other")})
			}, true},
			"SetDelete": {"set-difference", func(ctx context.Context) error {
				return c.SetDelete(ctx, "c", []byte("retried-gone"))
			}, true},
			"SetContainsElements": {"set-contains", func(ctx context.Context) error {
				_, _, err := c.SetContainsElements(ctx, "c", s, e)
				return err
			}, true},
			"SetLength": {"set-length", func(ctx context.Context) error { _, _, err := c.SetLength(ctx, "c", s); return err }, true},
			"SetSample": {"set-sample", func(ctx context.Context) error { _, _, err := c.SetSample(ctx, "c", s, 1); return err }, true},
			"SetPop":    {"set-pop", func(ctx context.Context) error { _, _, err := c.SetPop(ctx, "c", s, 1); return err }, false},
		})
	})
}
