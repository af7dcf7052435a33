package storetest

import (
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// testSetIf runs every SetIf condition against a missing key, a key holding
// the comparand, a key holding another value and an expired key that held
// the comparand; the hash conditions are in testSetIfHash.
func (h harness) testSetIf(t *testing.T) {
	const condTTL = time.Minute // shorter than longTTL, to tell which write set the TTL
	comparand := []byte("cmp")
	states := []struct {
		name    string
		current []byte // nil: missing
		expired bool
	}{
		{"Missing", nil, false},
		{"Equal", comparand, false},
		{"Different", []byte("other"), false},
		{"Expired", comparand, true},
	}
	tests := []struct {
		kind store.ConditionKind
		// want says whether SetIf stores, for each of states in order.
		want [4]bool
	}{
		{store.Present, [4]bool{false, true, true, false}},
		{store.PresentAndNotEqual, [4]bool{false, false, true, false}},
		{store.Absent, [4]bool{true, false, false, true}},
		{store.Equal, [4]bool{false, true, false, false}},
		{store.AbsentOrEqual, [4]bool{true, true, false, true}},
		{store.NotEqual, [4]bool{true, false, true, true}},
	}

	s := h.openWithCache(t)
	keyOf := func(kind store.ConditionKind, state string) []byte {
		return []byte(kind.String() + "/" + state)
	}
	expiring := make(map[string][]byte)
	for _, tc := range tests {
		for _, st := range states {
			switch {
			case st.expired:
				expiring[string(keyOf(tc.kind, st.name))] = st.current
			case st.current != nil:
				mustSet(t, s, testCache, keyOf(tc.kind, st.name), st.current, longTTL)
			}
		}
	}
	setExpired(t, s, testCache, expiring)

	for _, tc := range tests {
		for i, st := range states {
			t.Run(tc.kind.String()+"/"+st.name, func(t *testing.T) {
				t.Parallel()
				key := keyOf(tc.kind, st.name)
				cond := store.Condition{Kind: tc.kind, Value: comparand}
				stored, err := s.SetIf(t.Context(), testCache, key, []byte("new"), condTTL, cond)
				if err != nil || stored != tc.want[i] {
					t.Fatalf("SetIf(%s, %v %q) = %v, %v; want %v, nil", describe(st.current, st.current != nil && !st.expired), tc.kind, comparand, stored, err, tc.want[i])
				}
				switch {
				case stored:
					checkValue(t, s, testCache, key, []byte("new"))
					checkRemaining(t, s, testCache, key, 0, condTTL)
				case st.current == nil || st.expired:
					checkValue(t, s, testCache, key, nil)
				default:
					checkValue(t, s, testCache, key, st.current)
					checkRemaining(t, s, testCache, key, condTTL, longTTL)
				}
			})
		}
	}

	t.Run("EmptyComparand", func(t *testing.T) {
		t.Parallel()
		key := []byte("empty-value")
		mustSet(t, s, testCache, key, []byte{}, longTTL)
		stored, err := s.SetIf(t.Context(), testCache, key, []byte("new"), condTTL, store.Condition{Kind: store.Equal, Value: []byte{}})
		if err != nil || !stored {
			t.Errorf("SetIf(\"\", equal \"\") = %v, %v; want true, nil", stored, err)
		}
		checkValue(t, s, testCache, key, []byte("new"))
	})

	t.Run("Hash", func(t *testing.T) {
		t.Parallel()
		h.testSetIfHash(t)
	})
}
