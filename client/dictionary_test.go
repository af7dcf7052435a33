package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/thaw-dev/thaw/client"
)

func TestDictionary(t *testing.T) {
	t.Parallel()
	c := newCollectionClient(t)

	t.Run("operations", func(t *testing.T) {
		ctx := t.Context()
		d := []byte("dict")
		var ttl client.CollectionTTL

		if v, found, err := c.DictionaryGetField(ctx, "c", d, []byte("a")); err != nil || found || v != nil {
			t.Errorf("DictionaryGetField(missing dictionary) = %q, %v, %v; want a miss", v, found, err)
		}
		results, found, err := c.DictionaryGetFields(ctx, "c", d, [][]byte{[]byte("a"), []byte("b")})
		if err != nil || found || !cmp.Equal(results, []client.GetResult{{}, {}}) {
			t.Errorf("DictionaryGetFields(missing dictionary) = %v, %v, %v; want two misses, not found", results, found, err)
		}
		if fields, found, err := c.DictionaryFetch(ctx, "c", d); err != nil || found || fields != nil {
			t.Errorf("DictionaryFetch(missing) = %v, %v, %v; want nil, not found", fields, found, err)
		}
		if n, found, err := c.DictionaryLength(ctx, "c", d); err != nil || found || n != 0 {
			t.Errorf("DictionaryLength(missing) = %d, %v, %v; want 0, not found", n, found, err)
		}
		if err := c.DictionaryRemoveFields(ctx, "c", d, [][]byte{[]byte("a")}); err != nil {
			t.Errorf("DictionaryRemoveFields(missing dictionary) = %v; want nil", err)
		}
		if exists, err := c.KeysExist(ctx, "c", [][]byte{d}); err != nil || exists[0] {
			t.Errorf("KeysExist after removing from a missing dictionary = %v, %v; want [false] (not created)", exists, err)
		}

		want := map[string][]byte{"a": []byte("1"), "bin": binary, "empty": {}, string(binary): []byte("binary field")}
		if err := c.DictionarySetFields(ctx, "c", d, want, ttl); err != nil {
			t.Fatalf("DictionarySetFields: %v", err)
		}
		if v, found, err := c.DictionaryGetField(ctx, "c", d, []byte("bin")); err != nil || !found || !cmp.Equal(v, binary) {
			t.Errorf("DictionaryGetField(bin) = %q, %v, %v; want %q", v, found, err, binary)
		}
		if v, found, err := c.DictionaryGetField(ctx, "c", d, []byte("nope")); err != nil || found {
			t.Errorf("DictionaryGetField(missing field) = %q, %v, %v; want a miss", v, found, err)
		}
		results, found, err = c.DictionaryGetFields(ctx, "c", d, [][]byte{[]byte("a"), []byte("nope"), []byte("empty"), binary})
		wantResults := []client.GetResult{{Value: []byte("1"), Found: true}, {}, {Value: []byte{}, Found: true}, {Value: []byte("binary field"), Found: true}}
		if err != nil || !found {
			t.Errorf("DictionaryGetFields = %v, %v; want found", found, err)
		} else if diff := cmp.Diff(wantResults, results); diff != "" {
			t.Errorf("DictionaryGetFields (-want +got):\n%s", diff)
		} else if results[2].Value == nil {
			t.Errorf("DictionaryGetFields: the empty value is nil; want []byte{}")
		}
		fields, found, err := c.DictionaryFetch(ctx, "c", d)
		if err != nil || !found {
			t.Errorf("DictionaryFetch = %v, %v; want found", found, err)
		} else if diff := cmp.Diff(want, fields); diff != "" {
			t.Errorf("DictionaryFetch (-want +got):\n%s", diff)
		}
		if n, found, err := c.DictionaryLength(ctx, "c", d); err != nil || !found || n != 4 {
			t.Errorf("DictionaryLength = %d, %v, %v; want 4", n, found, err)
		}
		if err := c.DictionarySetFields(ctx, "c", d, map[string][]byte{"a": []byte("10")}, ttl); err != nil {
			t.Fatalf("DictionarySetFields(overwrite a): %v", err)
		}
		if n, _, err := c.DictionaryLength(ctx, "c", d); err != nil || n != 4 {
			t.Errorf("DictionaryLength after overwriting a field = %d, %v; want 4", n, err)
		}

		increments := []struct {
			field  string
			amount int64
			want   int64
		}{
			{"n", 5, 5},   // a missing field starts at 0
			{"n", -7, -2}, // negative amounts
			{"n", 0, -2},  // zero is accepted
			{"a", 1, 11},  // a field set as text
		}
		for _, tc := range increments {
			if got, err := c.DictionaryIncrement(ctx, "c", d, []byte(tc.field), tc.amount, ttl); err != nil || got != tc.want {
				t.Errorf("DictionaryIncrement(%q, %d) = %d, %v; want %d", tc.field, tc.amount, got, err, tc.want)
			}
		}
		if v, _, err := c.DictionaryGetField(ctx, "c", d, []byte("n")); err != nil || string(v) != "-2" {
			t.Errorf("DictionaryGetField(n) = %q, %v; want \"-2\" (stored as base-10 text)", v, err)
		}
		if got, err := c.DictionaryIncrement(ctx, "c", []byte("new-dict"), []byte("n"), 3, ttl); err != nil || got != 3 {
			t.Errorf("DictionaryIncrement(missing dictionary, 3) = %d, %v; want 3", got, err)
		}
		if _, err := c.DictionaryIncrement(ctx, "c", d, []byte("bin"), 1, ttl); !errors.Is(err, client.ErrFailedPrecondition) {
			t.Errorf("DictionaryIncrement(non-integer field) = %v; want ErrFailedPrecondition", err)
		}

		if err := c.DictionaryRemoveFields(ctx, "c", d, [][]byte{[]byte("a"), []byte("nope")}); err != nil {
			t.Fatalf("DictionaryRemoveFields: %v", err)
		}
		if n, _, err := c.DictionaryLength(ctx, "c", d); err != nil || n != 4 {
			t.Errorf("DictionaryLength after removing a and a missing field = %d, %v; want 4", n, err)
		}
		if typ, found, err := c.ItemType(ctx, "c", d); err != nil || !found || typ != client.ItemDictionary {
			t.Errorf("ItemType = %v, %v, %v; want dictionary", typ, found, err)
		}
		if err := c.DictionaryRemoveFields(ctx, "c", d, [][]byte{[]byte("bin"), []byte("empty"), binary, []byte("n")}); err != nil {
			t.Fatalf("DictionaryRemoveFields(all the rest): %v", err)
		}
		if results, found, err := c.DictionaryGetFields(ctx, "c", d, [][]byte{[]byte("n")}); err != nil || found {
			t.Errorf("DictionaryGetFields after removing every field = %v, %v, %v; want the dictionary missing", results, found, err)
		}
		if exists, err := c.KeysExist(ctx, "c", [][]byte{d}); err != nil || exists[0] {
			t.Errorf("KeysExist after removing every field = %v, %v; want [false]", exists, err)
		}

		if err := c.DictionarySetFields(ctx, "c", d, want, ttl); err != nil {
			t.Fatal(err)
		}
		if err := c.DictionaryDelete(ctx, "c", d); err != nil {
			t.Fatalf("DictionaryDelete: %v", err)
		}
		if _, found, err := c.DictionaryFetch(ctx, "c", d); err != nil || found {
			t.Errorf("DictionaryFetch after DictionaryDelete = %v, %v; want not found", found, err)
		}
		if err := c.DictionaryDelete(ctx, "c", d); err != nil {
			t.Errorf("DictionaryDelete(missing) = %v; want nil", err)
		}
		if _, _, err := c.DictionaryFetch(ctx, "nope", d); !errors.Is(err, client.ErrCacheNotFound) {
			t.Errorf("DictionaryFetch(missing cache) = %v; want ErrCacheNotFound", err)
		}
	})

	t.Run("TTL", func(t *testing.T) {
		seed := func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
			return c.DictionarySetFields(ctx, "c", key, map[string][]byte{"seed": []byte("1")}, ttl)
		}
		checkCollectionTTL(t, c, seed, []ttlCase{
			{name: "DictionarySetFields", write: func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
				return c.DictionarySetFields(ctx, "c", key, map[string][]byte{"f": []byte("v")}, ttl)
			}},
			{name: "DictionarySetFields unchanged", write: seed},
			{name: "DictionaryIncrement", write: func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
				_, err := c.DictionaryIncrement(ctx, "c", key, []byte("seed"), 1, ttl)
				return err
			}},
		})
	})

	t.Run("wrong type", func(t *testing.T) {
		var ttl client.CollectionTTL
		f := [][]byte{[]byte("f")}
		checkWrongType(t, c, client.ItemDictionary, map[string]func(context.Context, []byte) error{
			"DictionaryGetField": func(ctx context.Context, k []byte) error {
				_, _, err := c.DictionaryGetField(ctx, "c", k, f[0])
				return err
			},
			"DictionaryGetFields": func(ctx context.Context, k []byte) error {
				_, _, err := c.DictionaryGetFields(ctx, "c", k, f)
				return err
			},
			"DictionaryFetch": func(ctx context.Context, k []byte) error { _, _, err := c.DictionaryFetch(ctx, "c", k); return err },
			"DictionarySetFields": func(ctx context.Context, k []byte) error {
				return c.DictionarySetFields(ctx, "c", k, map[string][]byte{"f": nil}, ttl)
			},
			"DictionaryIncrement": func(ctx context.Context, k []byte) error {
				_, err := c.DictionaryIncrement(ctx, "c", k, f[0], 1, ttl)
				return err
			},
			"DictionaryRemoveFields": func(ctx context.Context, k []byte) error { return c.DictionaryRemoveFields(ctx, "c", k, f) },
			"DictionaryDelete":       func(ctx context.Context, k []byte) error { return c.DictionaryDelete(ctx, "c", k) },
			"DictionaryLength":       func(ctx context.Context, k []byte) error { _, _, err := c.DictionaryLength(ctx, "c", k); return err },
		})
	})

	t.Run("retries", func(t *testing.T) {
		var ttl client.CollectionTTL
		d, f := []byte("retried"), []byte("f")
		checkRetries(t, map[string]retryCase{
			"DictionaryGetField": {"dictionary-get", func(ctx context.Context) error {
				_, _, err := c.DictionaryGetField(ctx, "c", d, f)
				return err
			}, true},
			"DictionaryGetFields": {"dictionary-get", func(ctx context.Context) error {
				_, _, err := c.DictionaryGetFields(ctx, "c", d, [][]byte{f})
				return err
			}, true},
			"DictionaryFetch": {"dictionary-fetch", func(ctx context.Context) error {
				_, _, err := c.DictionaryFetch(ctx, "c", d)
				return err
			}, true},
			"DictionarySetFields": {"dictionary-set", func(ctx context.Context) error {
				return c.DictionarySetFields(ctx, "c", d, map[string][]byte{"f": []byte("1")}, ttl)
			}, true},
			"DictionaryIncrement": {"dictionary-increment", func(ctx context.Context) error {
				_, err := c.DictionaryIncrement(ctx, "c", d, f, 1, ttl)
				return err
			}, false},
			"DictionaryRemoveFields": {"dictionary-delete", func(ctx context.Context) error {
				return c.DictionaryRemoveFields(ctx, "c", d, [][]byte{f})
			}, true},
			"DictionaryDelete": {"dictionary-delete", func(ctx context.Context) error {
				return c.DictionaryDelete(ctx, "c", d)
			}, true},
			"DictionaryLength": {"dictionary-length", func(ctx context.Context) error {
				_, _, err := c.DictionaryLength(ctx, "c", d)
				return err
			}, true},
		})
	})
}
