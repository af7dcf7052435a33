package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// testExpiry checks that an item whose TTL has passed is gone for every
// method, and that one whose TTL has not passed is not.
func (h harness) testExpiry(t *testing.T) {
	t.Run("GetNeverReturnsExpired", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		// Not a round number, so that it is unlikely to coincide with a
		// backend's periodic expiry sweep, which would hide a read path
		// that returns expired items.
		const ttl = 130 * time.Millisecond
		// slack absorbs backends that keep expiry times in whole milliseconds.
		const slack = 5 * time.Millisecond
		before := time.Now()
		mustSet(t, s, testCache, []byte("k"), []byte("v"), ttl)
		after := time.Now()
		for {
			start := time.Now()
			value, found := mustGet(t, s, testCache, []byte("k"))
			end := time.Now()
			switch {
			case found && start.Sub(after) > ttl+slack:
				t.Fatalf("Get(k) = %q, begun %v after Set returned, want not found after the TTL of %v", value, start.Sub(after), ttl)
			case !found && end.Sub(before) < ttl:
				t.Fatalf("Get(k) = not found %v after Set began, want found within the TTL of %v", end.Sub(before), ttl)
			case !found:
				return
			case time.Since(before) > waitTimeout:
				t.Fatalf("Get(k) still found %v after Set, want expiry after %v", time.Since(before), ttl)
			}
			time.Sleep(pollInterval)
		}
	})

	t.Run("ExpiredIsAbsent", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		mustSet(t, s, testCache, []byte("live"), []byte("v"), longTTL)
		// Each check gets its own expired key: some of them write.
		checks := []struct {
			name  string
			check func(t *testing.T, key []byte)
		}{
			{"Get", func(t *testing.T, key []byte) {
				checkValue(t, s, testCache, key, nil)
			}},
			{"KeysExist", func(t *testing.T, key []byte) {
				got, err := s.KeysExist(t.Context(), testCache, [][]byte{key, []byte("live"), key})
				if want := []bool{false, true, false}; err != nil || !slices.Equal(got, want) {
					t.Errorf("KeysExist(expired, live, expired) = %v, %v; want %v, nil", got, err, want)
				}
			}},
			{"ItemTTL", func(t *testing.T, key []byte) {
				if remaining, found := mustItemTTL(t, s, testCache, key); found {
					t.Errorf("ItemTTL(expired) = %v, found; want not found", remaining)
				}
			}},
			{"ItemType", func(t *testing.T, key []byte) {
				typ, found, err := s.ItemType(t.Context(), testCache, key)
				if err != nil || found {
					t.Errorf("ItemType(expired) = %v, %v, %v; want not found", typ, found, err)
				}
			}},
			{"UpdateTTL", func(t *testing.T, key []byte) {
				for _, kind := range []store.TTLUpdateKind{store.IncreaseTo, store.DecreaseTo, store.OverwriteTo} {
					got, err := s.UpdateTTL(t.Context(), testCache, key, kind, longTTL)
					if err != nil || got != store.TTLMissing {
						t.Errorf("UpdateTTL(expired, %v) = %v, %v; want %v, nil", kind, got, err, store.TTLMissing)
					}
				}
				checkValue(t, s, testCache, key, nil)
			}},
			{"Increment", func(t *testing.T, key []byte) {
				got, err := s.Increment(t.Context(), testCache, key, 5, longTTL)
				if err != nil || got != 5 {
					t.Errorf("Increment(expired holding 10, 5) = %d, %v; want 5, nil", got, err)
				}
				checkValue(t, s, testCache, key, []byte("5"))
			}},
			{"SetAgain", func(t *testing.T, key []byte) {
				mustSet(t, s, testCache, key, []byte("new"), longTTL)
				checkValue(t, s, testCache, key, []byte("new"))
				checkRemaining(t, s, testCache, key, longTTL/2, longTTL)
			}},
			{"Delete", func(t *testing.T, key []byte) {
				if err := s.Delete(t.Context(), testCache, key); err != nil {
					t.Errorf("Delete(expired) = %v, want nil", err)
				}
			}},
		}
		expiring := make(map[string][]byte)
		for _, c := range checks {
			expiring["expired-"+c.name] = []byte("10")
		}
		setExpired(t, s, testCache, expiring)
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) {
				c.check(t, []byte("expired-"+c.name))
			})
		}
		checkValue(t, s, testCache, []byte("live"), []byte("v"))
	})

	t.Run("RemainingTTL", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		mustSet(t, s, testCache, []byte("k"), []byte("v"), longTTL)
		checkRemaining(t, s, testCache, []byte("k"), longTTL/2, longTTL)
		if remaining, found := mustItemTTL(t, s, testCache, []byte("missing")); found {
			t.Errorf("ItemTTL(missing) = %v, found; want not found", remaining)
		}
	})

	t.Run("ShortenedTTLExpires", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		mustSet(t, s, testCache, []byte("shortened"), []byte("v"), longTTL)
		setExpired(t, s, testCache, map[string][]byte{"shortened": []byte("v2")})
		checkValue(t, s, testCache, []byte("shortened"), nil)
	})

	t.Run("ExtendedTTLOutlivesOriginal", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		// original is long enough that no stall of a noisy machine lets
		// an item expire between two consecutive calls.
		const original = time.Second
		begin := time.Now()
		mustSet(t, s, testCache, []byte("overwritten"), []byte("v"), original)
		mustSet(t, s, testCache, []byte("overwritten"), []byte("v2"), longTTL)
		mustSet(t, s, testCache, []byte("increased"), []byte("v"), original)
		if got, err := s.UpdateTTL(t.Context(), testCache, []byte("increased"), store.IncreaseTo, longTTL); err != nil || got != store.TTLSet {
			t.Fatalf("UpdateTTL(increased, IncreaseTo) %v after Set = %v, %v; want %v, nil", time.Since(begin), got, err, store.TTLSet)
		}
		mustSet(t, s, testCache, []byte("incremented"), []byte("1"), original)
		if got, err := s.Increment(t.Context(), testCache, []byte("incremented"), 1, longTTL); err != nil || got != 2 {
			t.Fatalf("Increment(incremented) %v after Set = %d, %v; want 2, nil", time.Since(begin), got, err)
		}
		// Past the original expiry, with time for a backend's background
		// expiry to act on it.
		time.Sleep(original + settle)
		checkValue(t, s, testCache, []byte("overwritten"), []byte("v2"))
		checkValue(t, s, testCache, []byte("increased"), []byte("v"))
		checkValue(t, s, testCache, []byte("incremented"), []byte("2"))
	})
}

// testUpdateTTL covers every UpdateTTL kind against longer, shorter and
// missing TTLs, checking the remaining TTL afterwards.
func (h harness) testUpdateTTL(t *testing.T) {
	const (
		shorter = time.Minute
		longer  = 10 * time.Minute
	)
	tests := []struct {
		name    string
		initial time.Duration // 0: the key is missing
		kind    store.TTLUpdateKind
		ttl     time.Duration
		want    store.TTLUpdateResult
		// The remaining TTL afterwards must be in (lo, hi].
		lo, hi time.Duration
	}{
		{"IncreaseToLonger", shorter, store.IncreaseTo, longer, store.TTLSet, shorter, longer},
		{"IncreaseToShorter", longer, store.IncreaseTo, shorter, store.TTLNotSet, shorter, longer},
		{"DecreaseToShorter", longer, store.DecreaseTo, shorter, store.TTLSet, 0, shorter},
		{"DecreaseToLonger", shorter, store.DecreaseTo, longer, store.TTLNotSet, 0, shorter},
		{"OverwriteToLonger", shorter, store.OverwriteTo, longer, store.TTLSet, shorter, longer},
		{"OverwriteToShorter", longer, store.OverwriteTo, shorter, store.TTLSet, 0, shorter},
		{"IncreaseMissing", 0, store.IncreaseTo, longer, store.TTLMissing, 0, 0},
		{"DecreaseMissing", 0, store.DecreaseTo, shorter, store.TTLMissing, 0, 0},
		{"OverwriteMissing", 0, store.OverwriteTo, longer, store.TTLMissing, 0, 0},
	}
	s := h.openWithCache(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := []byte(tc.name)
			if tc.initial > 0 {
				mustSet(t, s, testCache, key, []byte("v"), tc.initial)
			}
			got, err := s.UpdateTTL(t.Context(), testCache, key, tc.kind, tc.ttl)
			if err != nil || got != tc.want {
				t.Fatalf("UpdateTTL(%v, %v) = %v, %v; want %v, nil", tc.kind, tc.ttl, got, err, tc.want)
			}
			if tc.initial == 0 {
				checkValue(t, s, testCache, key, nil)
				return
			}
			checkValue(t, s, testCache, key, []byte("v"))
			checkRemaining(t, s, testCache, key, tc.lo, tc.hi)
		})
	}

	t.Run("DecreaseExpires", func(t *testing.T) {
		mustSet(t, s, testCache, []byte("decreased"), []byte("v"), longTTL)
		got, err := s.UpdateTTL(t.Context(), testCache, []byte("decreased"), store.DecreaseTo, shortTTL)
		if err != nil || got != store.TTLSet {
			t.Fatalf("UpdateTTL(DecreaseTo, %v) = %v, %v; want %v, nil", shortTTL, got, err, store.TTLSet)
		}
		eventually(t, "the decreased TTL to expire the key", func() bool {
			_, found := mustGet(t, s, testCache, []byte("decreased"))
			return !found
		})
	})
}
