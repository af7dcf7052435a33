package client_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
)

func TestHash(t *testing.T) {
	t.Parallel()
	c := newCollectionClient(t)

	t.Run("get and set with hash", func(t *testing.T) {
		ctx := t.Context()
		k := []byte("hashed")
		if v, h, found, err := c.GetWithHash(ctx, "c", k); err != nil || found || v != nil || h != nil {
			t.Errorf("GetWithHash(missing) = %q, %q, %v, %v; want a miss", v, h, found, err)
		}
		h1, err := c.SetWithHash(ctx, "c", k, binary, time.Hour)
		if err != nil || len(h1) == 0 {
			t.Fatalf("SetWithHash(binary) = %q, %v; want a hash", h1, err)
		}
		v, h, found, err := c.GetWithHash(ctx, "c", k)
		if err != nil || !found || !bytes.Equal(v, binary) || !bytes.Equal(h, h1) {
			t.Errorf("GetWithHash = %q, %q, %v, %v; want %q with the hash SetWithHash returned, %q", v, h, found, err, binary, h1)
		}
		if ttl, found, err := c.ItemTTL(ctx, "c", k); err != nil || !found || ttl > time.Hour || ttl <= 59*time.Minute {
			t.Errorf("ItemTTL after SetWithHash(1h) = %v, %v, %v; want in (59m, 1h]", ttl, found, err)
		}
		if again, err := c.SetWithHash(ctx, "c", k, binary, 0); err != nil || !bytes.Equal(again, h1) {
			t.Errorf("SetWithHash(same value) = %q, %v; want the same hash %q", again, err, h1)
		}
		h2, err := c.SetWithHash(ctx, "c", k, []byte("other"), 0)
		if err != nil || bytes.Equal(h2, h1) {
			t.Errorf("SetWithHash(other value) = %q, %v; want a hash other than %q", h2, err, h1)
		}
		// A plain Set gives the value the same hash as SetWithHash would.
		if err := c.Set(ctx, "c", k, binary, 0); err != nil {
			t.Fatal(err)
		}
		if _, h, _, err := c.GetWithHash(ctx, "c", k); err != nil || !bytes.Equal(h, h1) {
			t.Errorf("GetWithHash after Set(binary) = hash %q, %v; want %q", h, err, h1)
		}
		empty, err := c.SetWithHash(ctx, "c", []byte("hashed-empty"), []byte{}, 0)
		if err != nil || len(empty) == 0 {
			t.Errorf("SetWithHash(empty value) = %q, %v; want a hash", empty, err)
		}
		if v, h, found, err := c.GetWithHash(ctx, "c", []byte("hashed-empty")); err != nil || !found || v == nil || len(v) != 0 || !bytes.Equal(h, empty) {
			t.Errorf("GetWithHash(empty value) = %q (nil %v), %q, %v, %v; want an empty non-nil value and hash %q", v, v == nil, h, found, err, empty)
		}
	})

	t.Run("conditions", func(t *testing.T) {
		ctx := t.Context()
		old, value := []byte("old"), []byte("new")
		oldHash, err := c.SetWithHash(ctx, "c", []byte("probe"), old, 0)
		if err != nil {
			t.Fatal(err)
		}
		newHash, err := c.SetWithHash(ctx, "c", []byte("probe"), value, 0)
		if err != nil {
			t.Fatal(err)
		}
		other := []byte("not a hash of anything")
		cases := []struct {
			name    string
			present bool // the key holds old before the call; else it is absent
			cond    client.HashCondition
			stored  bool
		}{
			{"present and hash equal, equal", true, client.IfPresentAndHashEqual(oldHash), true},
			{"present and hash equal, other", true, client.IfPresentAndHashEqual(other), false},
			{"present and hash equal, absent", false, client.IfPresentAndHashEqual(oldHash), false},
			{"present and hash not equal, other", true, client.IfPresentAndHashNotEqual(other), true},
			{"present and hash not equal, equal", true, client.IfPresentAndHashNotEqual(oldHash), false},
			{"present and hash not equal, absent", false, client.IfPresentAndHashNotEqual(other), false},
			{"absent or hash equal, equal", true, client.IfAbsentOrHashEqual(oldHash), true},
			{"absent or hash equal, other", true, client.IfAbsentOrHashEqual(other), false},
			{"absent or hash equal, absent", false, client.IfAbsentOrHashEqual(other), true},
			{"absent or hash not equal, other", true, client.IfAbsentOrHashNotEqual(other), true},
			{"absent or hash not equal, equal", true, client.IfAbsentOrHashNotEqual(oldHash), false},
			{"absent or hash not equal, absent", false, client.IfAbsentOrHashNotEqual(oldHash), true},
		}
		for i, tc := range cases {
			k := []byte{'c', byte(i)}
			if tc.present {
				if err := c.Set(ctx, "c", k, old, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			h, stored, err := c.SetIfHash(ctx, "c", k, value, 10*time.Minute, tc.cond)
			if err != nil || stored != tc.stored {
				t.Errorf("SetIfHash(%s) = %q, %v, %v; want stored %v", tc.name, h, stored, err, tc.stored)
				continue
			}
			v, _, found, err := c.GetWithHash(ctx, "c", k)
			ttl, _, _ := c.ItemTTL(ctx, "c", k)
			switch {
			case err != nil:
				t.Errorf("GetWithHash after SetIfHash(%s): %v", tc.name, err)
			case stored && (!bytes.Equal(h, newHash) || !bytes.Equal(v, value) || ttl > 10*time.Minute || ttl <= 9*time.Minute):
				t.Errorf("after SetIfHash(%s) stored: hash %q, value %q, TTL %v; want %q, %q, in (9m, 10m]", tc.name, h, v, ttl, newHash, value)
			case !stored && h != nil:
				t.Errorf("SetIfHash(%s) not stored returned hash %q; want nil", tc.name, h)
			case !stored && tc.present && (!bytes.Equal(v, old) || ttl <= 59*time.Minute):
				t.Errorf("after SetIfHash(%s) not stored: value %q, TTL %v; want %q and the 1h TTL unchanged", tc.name, v, ttl, old)
			case !stored && !tc.present && found:
				t.Errorf("after SetIfHash(%s) not stored: key found; want it still absent", tc.name)
			}
		}
	})

	t.Run("collections", func(t *testing.T) {
		ctx := t.Context()
		keys := seedKinds(t, c)
		for kind, k := range keys {
			if kind == client.ItemScalar {
				continue
			}
			if _, _, _, err := c.GetWithHash(ctx, "c", k); !errors.Is(err, client.ErrFailedPrecondition) {
				t.Errorf("GetWithHash on a %v = %v; want ErrFailedPrecondition", kind, err)
			}
			if _, _, err := c.SetIfHash(ctx, "c", k, []byte("v"), 0, client.IfAbsentOrHashNotEqual([]byte("h"))); !errors.Is(err, client.ErrFailedPrecondition) {
				t.Errorf("SetIfHash on a %v = %v; want ErrFailedPrecondition", kind, err)
			}
		}
		// SetWithHash is a Set: it replaces whatever the key held.
		if _, err := c.SetWithHash(ctx, "c", keys[client.ItemList], []byte("v"), 0); err != nil {
			t.Errorf("SetWithHash on a list = %v; want nil (replaced)", err)
		}
		if typ, _, err := c.ItemType(ctx, "c", keys[client.ItemList]); err != nil || typ != client.ItemScalar {
			t.Errorf("ItemType after SetWithHash on a list = %v, %v; want scalar", typ, err)
		}
		if _, _, _, err := c.GetWithHash(ctx, "nope", keys[client.ItemScalar]); !errors.Is(err, client.ErrCacheNotFound) {
			t.Errorf("GetWithHash(missing cache) = %v; want ErrCacheNotFound", err)
		}
	})

	t.Run("retries", func(t *testing.T) {
		k := []byte("retried")
		checkRetries(t, map[string]retryCase{
			"GetWithHash": {"get-with-hash", func(ctx context.Context) error { _, _, _, err := c.GetWithHash(ctx, "c", k); return err }, true},
			"SetWithHash": {"set-if-hash", func(ctx context.Context) error { _, err := c.SetWithHash(ctx, "c", k, []byte("v"), 0); return err }, true},
			"SetIfHash": {"set-if-hash", func(ctx context.Context) error {
				_, _, err := c.SetIfHash(ctx, "c", k, []byte("v"), 0, client.IfAbsentOrHashNotEqual([]byte("h")))
				return err
			}, false},
		})
	})
}
