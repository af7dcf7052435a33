package storetest

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// testIncrement covers creation, addition, the integer range, values that
// are not integers and the TTL Increment sets.
func (h harness) testIncrement(t *testing.T) {
	maxInt := strconv.FormatInt(math.MaxInt64, 10)
	minInt := strconv.FormatInt(math.MinInt64, 10)
	tests := []struct {
		name    string
		initial []byte // nil: the key is missing
		amount  int64
		want    int64
		wantErr error
	}{
		{"CreatesMissing", nil, 5, 5, nil},
		{"CreatesMissingNegative", nil, -7, -7, nil},
		{"CreatesMissingZero", nil, 0, 0, nil},
		{"CreatesMissingMax", nil, math.MaxInt64, math.MaxInt64, nil},
		{"Adds", []byte("10"), 5, 15, nil},
		{"AddsNegative", []byte("10"), -25, -15, nil},
		{"AddsToNegative", []byte("-3"), 3, 0, nil},
		{"AddsZero", []byte("42"), 0, 42, nil},
		{"ReachesMax", []byte(strconv.FormatInt(math.MaxInt64-1, 10)), 1, math.MaxInt64, nil},
		{"ReachesMin", []byte(strconv.FormatInt(math.MinInt64+1, 10)), -1, math.MinInt64, nil},
		{"MaxPlusMin", []byte(maxInt), math.MinInt64, -1, nil},
		{"Overflow", []byte(maxInt), 1, 0, store.ErrOverflow},
		{"OverflowLarge", []byte("1"), math.MaxInt64, 0, store.ErrOverflow},
		{"Underflow", []byte(minInt), -1, 0, store.ErrOverflow},
		{"UnderflowLarge", []byte("-2"), math.MinInt64, 0, store.ErrOverflow},
		{"NotIntegerWord", []byte("abc"), 1, 0, store.ErrNotInteger},
		{"NotIntegerEmpty", []byte{}, 1, 0, store.ErrNotInteger},
		{"NotIntegerDecimal", []byte("1.5"), 1, 0, store.ErrNotInteger},
		{"NotIntegerLeadingSpace", []byte(" 1"), 1, 0, store.ErrNotInteger},
		{"NotIntegerTrailingSpace", []byte("1 "), 1, 0, store.ErrNotInteger},
		{"NotIntegerHex", []byte("0x10"), 1, 0, store.ErrNotInteger},
		{"NotIntegerOutOfRange", []byte("99999999999999999999"), 1, 0, store.ErrNotInteger},
		{"NotIntegerBinary", []byte{0xff, '1'}, 1, 0, store.ErrNotInteger},
	}
	s := h.openWithCache(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := []byte(tc.name)
			if tc.initial != nil {
				mustSet(t, s, testCache, key, tc.initial, longTTL)
			}
			got, err := s.Increment(t.Context(), testCache, key, tc.amount, longTTL)
			if tc.wantErr != nil {
				errorIs(t, "Increment("+strconv.Quote(string(tc.initial))+", "+strconv.FormatInt(tc.amount, 10)+")", err, tc.wantErr)
				checkValue(t, s, testCache, key, tc.initial) // unchanged
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Increment(%s, %d) = %d, %v; want %d, nil", describe(tc.initial, tc.initial != nil), tc.amount, got, err, tc.want)
			}
			checkValue(t, s, testCache, key, []byte(strconv.FormatInt(tc.want, 10)))
		})
	}

	t.Run("Repeated", func(t *testing.T) {
		t.Parallel()
		key := []byte("repeated")
		for i := int64(1); i <= 10; i++ {
			got, err := s.Increment(t.Context(), testCache, key, i, longTTL)
			if want := i * (i + 1) / 2; err != nil || got != want {
				t.Fatalf("Increment #%d = %d, %v; want %d, nil", i, got, err, want)
			}
		}
		checkValue(t, s, testCache, key, []byte("55"))
	})

	t.Run("SetsTTL", func(t *testing.T) {
		t.Parallel()
		const ttl = time.Minute
		key := []byte("ttl")
		mustSet(t, s, testCache, key, []byte("1"), longTTL)
		if _, err := s.Increment(t.Context(), testCache, key, 1, ttl); err != nil {
			t.Fatalf("Increment(ttl) = %v, want nil", err)
		}
		checkRemaining(t, s, testCache, key, 0, ttl)
	})

	t.Run("Expires", func(t *testing.T) {
		t.Parallel()
		key := []byte("expires")
		if _, err := s.Increment(t.Context(), testCache, key, 1, shortTTL); err != nil {
			t.Fatalf("Increment(expires) = %v, want nil", err)
		}
		eventually(t, "the incremented key to expire", func() bool {
			_, found := mustGet(t, s, testCache, key)
			return !found
		})
	})
}
