package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/thaw-dev/thaw/client"
)

// values returns the byte strings of ss.
func values(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// digits returns the values "0" to "n-1".
func digits(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%d", i)
	}
	return out
}

func TestList(t *testing.T) {
	t.Parallel()
	c := newCollectionClient(t)

	// fetch returns the whole list, failing the test on an error.
	fetch := func(t *testing.T, list []byte) [][]byte {
		t.Helper()
		got, _, err := c.ListFetch(t.Context(), "c", list, client.AllIndices())
		if err != nil {
			t.Fatalf("ListFetch(%q): %v", list, err)
		}
		return got
	}

	t.Run("push, pop and fetch", func(t *testing.T) {
		ctx := t.Context()
		l := []byte("list")
		var opts client.ListPushOptions

		if v, found, err := c.ListPopFront(ctx, "c", l); err != nil || found || v != nil {
			t.Errorf("ListPopFront(missing) = %q, %v, %v; want a miss", v, found, err)
		}
		if v, found, err := c.ListPopBack(ctx, "c", l); err != nil || found || v != nil {
			t.Errorf("ListPopBack(missing) = %q, %v, %v; want a miss", v, found, err)
		}
		if vs, found, err := c.ListFetch(ctx, "c", l, client.AllIndices()); err != nil || found || vs != nil {
			t.Errorf("ListFetch(missing) = %q, %v, %v; want a miss", vs, found, err)
		}
		if n, found, err := c.ListLength(ctx, "c", l); err != nil || found || n != 0 {
			t.Errorf("ListLength(missing) = %d, %v, %v; want 0, not found", n, found, err)
		}

		for i, v := range []string{"one", "two", "three"} {
			if n, err := c.ListPushFront(ctx, "c", l, []byte(v), opts); err != nil || n != i+1 {
				t.Errorf("ListPushFront(%q) = %d, %v; want %d", v, n, err, i+1)
			}
		}
		if n, err := c.ListPushBack(ctx, "c", l, binary, opts); err != nil || n != 4 {
			t.Errorf("ListPushBack(binary) = %d, %v; want 4", n, err)
		}
		if n, err := c.ListConcatenateFront(ctx, "c", l, values("x", "y"), opts); err != nil || n != 6 {
			t.Errorf("ListConcatenateFront(x, y) = %d, %v; want 6", n, err)
		}
		if n, err := c.ListConcatenateBack(ctx, "c", l, [][]byte{{}, []byte("one")}, opts); err != nil || n != 8 {
			t.Errorf("ListConcatenateBack(empty, one) = %d, %v; want 8", n, err)
		}
		all := [][]byte{[]byte("x"), []byte("y"), []byte("three"), []byte("two"), []byte("one"), binary, {}, []byte("one")}
		if diff := cmp.Diff(all, fetch(t, l)); diff != "" {
			t.Fatalf("ListFetch(all) (-want +got):\n%s", diff)
		}
		if n, found, err := c.ListLength(ctx, "c", l); err != nil || !found || n != 8 {
			t.Errorf("ListLength = %d, %v, %v; want 8", n, found, err)
		}
		if typ, found, err := c.ItemType(ctx, "c", l); err != nil || !found || typ != client.ItemList {
			t.Errorf("ItemType = %v, %v, %v; want list", typ, found, err)
		}

		ranges := []struct {
			r    client.IndexRange
			want [][]byte // nil: a miss
		}{
			{client.IndexSlice(1, 3), all[1:3]},
			{client.IndexFrom(-2), all[6:]},
			{client.IndexFrom(3), all[3:]},
			{client.IndexSlice(0, -5), all[:3]},
			{client.IndexSlice(-3, -1), all[5:7]},
			{client.IndexSlice(-100, 2), all[:2]},
			{client.IndexSlice(0, 100), all},
			{client.IndexSlice(5, 2), nil},
			{client.IndexSlice(2, 2), nil},
			{client.IndexSlice(0, 0), nil},
			{client.IndexFrom(100), nil},
		}
		for _, tc := range ranges {
			got, found, err := c.ListFetch(ctx, "c", l, tc.r)
			if err != nil || found != (tc.want != nil) {
				t.Errorf("ListFetch(%v) = %q, %v, %v; want found %v", tc.r, got, found, err, tc.want != nil)
				continue
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ListFetch(%v) (-want +got):\n%s", tc.r, diff)
			}
		}

		if v, found, err := c.ListPopFront(ctx, "c", l); err != nil || !found || string(v) != "x" {
			t.Errorf("ListPopFront = %q, %v, %v; want x", v, found, err)
		}
		if v, found, err := c.ListPopBack(ctx, "c", l); err != nil || !found || string(v) != "one" {
			t.Errorf("ListPopBack = %q, %v, %v; want one", v, found, err)
		}
		if v, found, err := c.ListPopBack(ctx, "c", l); err != nil || !found || v == nil || len(v) != 0 {
			t.Errorf("ListPopBack = %q (nil %v), %v, %v; want an empty non-nil value", v, v == nil, found, err)
		}
		if v, found, err := c.ListPopBack(ctx, "c", l); err != nil || !found || !cmp.Equal(v, binary) {
			t.Errorf("ListPopBack = %q, %v, %v; want %q", v, found, err, binary)
		}
		for range 4 {
			if _, found, err := c.ListPopFront(ctx, "c", l); err != nil || !found {
				t.Fatalf("ListPopFront while draining = %v, %v; want found", found, err)
			}
		}
		if v, found, err := c.ListPopFront(ctx, "c", l); err != nil || found {
			t.Errorf("ListPopFront after draining = %q, %v, %v; want a miss (deleted)", v, found, err)
		}
		if exists, err := c.KeysExist(ctx, "c", [][]byte{l}); err != nil || exists[0] {
			t.Errorf("KeysExist after popping every element = %v, %v; want [false]", exists, err)
		}
		if _, _, err := c.ListFetch(ctx, "nope", l, client.AllIndices()); !errors.Is(err, client.ErrCacheNotFound) {
			t.Errorf("ListFetch(missing cache) = %v; want ErrCacheNotFound", err)
		}
	})

	t.Run("truncation", func(t *testing.T) {
		ctx := t.Context()
		l := []byte("truncated")
		two := client.ListPushOptions{TruncateToSize: 2}
		steps := []struct {
			name    string
			write   func() (int, error)
			wantLen int
			want    [][]byte
		}{
			{"ListPushFront(a)", func() (int, error) { return c.ListPushFront(ctx, "c", l, []byte("a"), two) }, 1, values("a")},
			{"ListPushFront(b)", func() (int, error) { return c.ListPushFront(ctx, "c", l, []byte("b"), two) }, 2, values("b", "a")},
			{"ListPushFront(c)", func() (int, error) { return c.ListPushFront(ctx, "c", l, []byte("c"), two) }, 2, values("c", "b")},
			{"ListPushBack(d)", func() (int, error) { return c.ListPushBack(ctx, "c", l, []byte("d"), two) }, 2, values("b", "d")},
			{"ListConcatenateFront(1, 2, 3)", func() (int, error) {
				return c.ListConcatenateFront(ctx, "c", l, values("1", "2", "3"), two)
			}, 2, values("1", "2")},
			{"ListConcatenateBack(4, 5, 6)", func() (int, error) {
				return c.ListConcatenateBack(ctx, "c", l, values("4", "5", "6"), two)
			}, 2, values("5", "6")},
			{"ListConcatenateBack(7) without truncation", func() (int, error) {
				return c.ListConcatenateBack(ctx, "c", l, values("7"), client.ListPushOptions{})
			}, 3, values("5", "6", "7")},
		}
		for _, tc := range steps {
			n, err := tc.write()
			if err != nil || n != tc.wantLen {
				t.Errorf("%s with TruncateToSize 2 = %d, %v; want %d", tc.name, n, err, tc.wantLen)
			}
			if diff := cmp.Diff(tc.want, fetch(t, l)); diff != "" {
				t.Errorf("list after %s (-want +got):\n%s", tc.name, diff)
			}
		}
	})

	t.Run("remove, retain and erase", func(t *testing.T) {
		ctx := t.Context()
		var opts client.ListPushOptions
		var ttl client.CollectionTTL
		r := []byte("removed")
		if err := c.ListRemoveValue(ctx, "c", r, []byte("a")); err != nil {
			t.Errorf("ListRemoveValue(missing list) = %v; want nil", err)
		}
		if _, err := c.ListConcatenateBack(ctx, "c", r, values("a", "b", "a", "c", "a"), opts); err != nil {
			t.Fatal(err)
		}
		if err := c.ListRemoveValue(ctx, "c", r, []byte("a")); err != nil {
			t.Fatalf("ListRemoveValue(a): %v", err)
		}
		if diff := cmp.Diff(values("b", "c"), fetch(t, r)); diff != "" {
			t.Errorf("list after ListRemoveValue(a) (-want +got):\n%s", diff)
		}
		if err := c.ListRemoveValue(ctx, "c", r, []byte("nope")); err != nil {
			t.Errorf("ListRemoveValue(absent value) = %v; want nil", err)
		}
		for _, v := range []string{"b", "c"} {
			if err := c.ListRemoveValue(ctx, "c", r, []byte(v)); err != nil {
				t.Fatalf("ListRemoveValue(%q): %v", v, err)
			}
		}
		if _, found, err := c.ListLength(ctx, "c", r); err != nil || found {
			t.Errorf("ListLength after removing every value = %v, %v; want not found", found, err)
		}

		k := []byte("retained")
		if err := c.ListRetain(ctx, "c", k, client.IndexSlice(0, 2), ttl); err != nil {
			t.Errorf("ListRetain(missing list) = %v; want nil", err)
		}
		if exists, err := c.KeysExist(ctx, "c", [][]byte{k}); err != nil || exists[0] {
			t.Errorf("KeysExist after ListRetain on a missing list = %v, %v; want [false] (not created)", exists, err)
		}
		if _, err := c.ListConcatenateBack(ctx, "c", k, digits(10), opts); err != nil {
			t.Fatal(err)
		}
		retains := []struct {
			r    client.IndexRange
			want [][]byte
		}{
			{client.IndexSlice(2, -2), values("2", "3", "4", "5", "6", "7")},
			{client.IndexFrom(-4), values("4", "5", "6", "7")},
			{client.AllIndices(), values("4", "5", "6", "7")},
			{client.IndexSlice(1, 100), values("5", "6", "7")},
		}
		for _, tc := range retains {
			if err := c.ListRetain(ctx, "c", k, tc.r, ttl); err != nil {
				t.Fatalf("ListRetain(%v): %v", tc.r, err)
			}
			if diff := cmp.Diff(tc.want, fetch(t, k)); diff != "" {
				t.Errorf("list after ListRetain(%v) (-want +got):\n%s", tc.r, diff)
			}
		}
		if err := c.ListRetain(ctx, "c", k, client.IndexSlice(2, 1), ttl); err != nil {
			t.Fatalf("ListRetain(empty range): %v", err)
		}
		if exists, err := c.KeysExist(ctx, "c", [][]byte{k}); err != nil || exists[0] {
			t.Errorf("KeysExist after ListRetain of an empty range = %v, %v; want [false] (deleted)", exists, err)
		}

		e := []byte("erased")
		if err := c.ListErase(ctx, "c", e, []client.ListSpan{{Start: 0, Count: 1}}); err != nil {
			t.Errorf("ListErase(missing list) = %v; want nil", err)
		}
		if _, err := c.ListConcatenateBack(ctx, "c", e, digits(10), opts); err != nil {
			t.Fatal(err)
		}
		// Indexes refer to the list before the call; spans overlap and run
		// past the end.
		if err := c.ListErase(ctx, "c", e, []client.ListSpan{{Start: 1, Count: 2}, {Start: 2, Count: 2}, {Start: 8, Count: 5}}); err != nil {
			t.Fatalf("ListErase: %v", err)
		}
		if diff := cmp.Diff(values("0", "4", "5", "6", "7"), fetch(t, e)); diff != "" {
			t.Errorf("list after ListErase (-want +got):\n%s", diff)
		}
		if err := c.ListErase(ctx, "c", e, []client.ListSpan{{Start: 0, Count: 100}}); err != nil {
			t.Fatalf("ListErase(everything): %v", err)
		}
		if exists, err := c.KeysExist(ctx, "c", [][]byte{e}); err != nil || exists[0] {
			t.Errorf("KeysExist after erasing everything = %v, %v; want [false]", exists, err)
		}

		d := []byte("deleted")
		if _, err := c.ListPushBack(ctx, "c", d, []byte("v"), opts); err != nil {
			t.Fatal(err)
		}
		if err := c.ListDelete(ctx, "c", d); err != nil {
			t.Fatalf("ListDelete: %v", err)
		}
		if _, found, err := c.ListLength(ctx, "c", d); err != nil || found {
			t.Errorf("ListLength after ListDelete = %v, %v; want not found", found, err)
		}
		if err := c.ListDelete(ctx, "c", d); err != nil {
			t.Errorf("ListDelete(missing) = %v; want nil", err)
		}
	})

	t.Run("TTL", func(t *testing.T) {
		seed := func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
			_, err := c.ListConcatenateBack(ctx, "c", key, values("s1", "s2"), client.ListPushOptions{TTL: ttl})
			return err
		}
		push := func(f func(context.Context, string, []byte, []byte, client.ListPushOptions) (int, error)) collectionWrite {
			return func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
				_, err := f(ctx, "c", key, []byte("v"), client.ListPushOptions{TTL: ttl})
				return err
			}
		}
		concatenate := func(f func(context.Context, string, []byte, [][]byte, client.ListPushOptions) (int, error)) collectionWrite {
			return func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
				_, err := f(ctx, "c", key, values("v"), client.ListPushOptions{TTL: ttl})
				return err
			}
		}
		checkCollectionTTL(t, c, seed, []ttlCase{
			{name: "ListPushFront", write: push(c.ListPushFront)},
			{name: "ListPushBack", write: push(c.ListPushBack)},
			{name: "ListConcatenateFront", write: concatenate(c.ListConcatenateFront)},
			{name: "ListConcatenateBack", write: concatenate(c.ListConcatenateBack)},
			{name: "ListRetain", existingOnly: true, write: func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
				return c.ListRetain(ctx, "c", key, client.IndexFrom(1), ttl)
			}},
		})
	})

	t.Run("wrong type", func(t *testing.T) {
		var opts client.ListPushOptions
		var ttl client.CollectionTTL
		v := []byte("v")
		checkWrongType(t, c, client.ItemList, map[string]func(context.Context, []byte) error{
			"ListPushFront": func(ctx context.Context, k []byte) error { _, err := c.ListPushFront(ctx, "c", k, v, opts); return err },
			"ListPushBack":  func(ctx context.Context, k []byte) error { _, err := c.ListPushBack(ctx, "c", k, v, opts); return err },
			"ListConcatenateFront": func(ctx context.Context, k []byte) error {
				_, err := c.ListConcatenateFront(ctx, "c", k, [][]byte{v}, opts)
				return err
			},
			"ListConcatenateBack": func(ctx context.Context, k []byte) error {
				_, err := c.ListConcatenateBack(ctx, "c", k, [][]byte{v}, opts)
				return err
			},
			"ListPopFront": func(ctx context.Context, k []byte) error { _, _, err := c.ListPopFront(ctx, "c", k); return err },
			"ListPopBack":  func(ctx context.Context, k []byte) error { _, _, err := c.ListPopBack(ctx, "c", k); return err },
			"ListFetch": func(ctx context.Context, k []byte) error {
				_, _, err := c.ListFetch(ctx, "c", k, client.AllIndices())
				return err
			},
			"ListLength":      func(ctx context.Context, k []byte) error { _, _, err := c.ListLength(ctx, "c", k); return err },
			"ListRemoveValue": func(ctx context.Context, k []byte) error { return c.ListRemoveValue(ctx, "c", k, v) },
			"ListRetain": func(ctx context.Context, k []byte) error {
				return c.ListRetain(ctx, "c", k, client.IndexFrom(1), ttl)
			},
			"ListErase": func(ctx context.Context, k []byte) error {
				return c.ListErase(ctx, "c", k, []client.ListSpan{{Start: 0, Count: 1}})
			},
			"ListDelete": func(ctx context.Context, k []byte) error { return c.ListDelete(ctx, "c", k) },
		})
	})

	t.Run("retries", func(t *testing.T) {
		var opts client.ListPushOptions
		var ttl client.CollectionTTL
		l, v := []byte("retried"), []byte("v")
		checkRetries(t, map[string]retryCase{
			"ListPushFront": {"list-push-front", func(ctx context.Context) error {
				_, err := c.ListPushFront(ctx, "c", l, v, opts)
				return err
			}, false},
			"ListPushBack": {"list-push-back", func(ctx context.Context) error {
				_, err := c.ListPushBack(ctx, "c", l, v, opts)
				return err
			}, false},
			"ListConcatenateFront": {"list-concatenate-front", func(ctx context.Context) error {
				_, err := c.ListConcatenateFront(ctx, "c", l, [][]byte{v}, opts)
				return err
			}, false},
			"ListConcatenateBack": {"list-concatenate-back", func(ctx context.Context) error {
				_, err := c.ListConcatenateBack(ctx, "c", l, [][]byte{v}, opts)
				return err
			}, false},
			"ListPopFront": {"list-pop-front", func(ctx context.Context) error { _, _, err := c.ListPopFront(ctx, "c", l); return err }, false},
			"ListPopBack":  {"list-pop-back", func(ctx context.Context) error { _, _, err := c.ListPopBack(ctx, "c", l); return err }, false},
			"ListFetch": {"list-fetch", func(ctx context.Context) error {
				_, _, err := c.ListFetch(ctx, "c", l, client.AllIndices())
				return err
			}, true},
			"ListLength":      {"list-length", func(ctx context.Context) error { _, _, err := c.ListLength(ctx, "c", l); return err }, true},
			"ListRemoveValue": {"list-remove", func(ctx context.Context) error { return c.ListRemoveValue(ctx, "c", l, []byte("nope")) }, true},
			"ListRetain": {"list-retain", func(ctx context.Context) error {
				return c.ListRetain(ctx, "c", l, client.AllIndices(), ttl)
			}, false},
			"ListErase": {"list-erase", func(ctx context.Context) error {
				return c.ListErase(ctx, "c", l, []client.ListSpan{{Start: 100, Count: 1}})
			}, false},
			"ListDelete": {"list-erase", func(ctx context.Context) error { return c.ListDelete(ctx, "c", []byte("retried-gone")) }, true},
		})
	})
}
