package storetest

import (
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// testSetIfHash runs the hash conditions of SetIf (SetIfHash's) against a
// missing key, a key whose value hashes to the comparand, one holding another
// value, one holding the empty value and an expired key that held the
// comparand's value; then against values written by every kind of write, and
// against a collection.
func (h harness) testSetIfHash(t *testing.T) {
	const condTTL = time.Minute // shorter than longTTL, to tell which write set the TTL
	matching := []byte("cmp")
	comparand := store.Hash(matching)
	states := []struct {
		name    string
		current []byte // nil: missing
		expired bool
	}{
		{"Missing", nil, false},
		{"HashEqual", matching, false},
		{"HashDifferent", []byte("other"), false},
		{"EmptyValue", []byte{}, false},
		{"Expired", matching, true},
	}
	tests := []struct {
		kind store.ConditionKind
		// want says whether SetIf stores, for each of states in order.
		want [5]bool
	}{
		{store.PresentAndHashEqual, [5]bool{false, true, false, false, false}},
		{store.PresentAndNotHashEqual, [5]bool{false, false, true, true, false}},
		{store.AbsentOrHashEqual, [5]bool{true, true, false, false, true}},
		{store.AbsentOrNotHashEqual, [5]bool{true, false, true, true, true}},
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

	// The hash is of whatever value the key holds, however it was written.
	t.Run("EveryWrite", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		writes := []struct {
			name  string
			write func(key []byte) error
			value []byte
		}{
			{"Set", func(key []byte) error { return s.Set(t.Context(), testCache, key, []byte("set"), longTTL) }, []byte("set")},
			{"SetIf", func(key []byte) error {
				_, err := s.SetIf(t.Context(), testCache, key, []byte("set if"), longTTL, store.Condition{Kind: store.Absent})
				return err
			}, []byte("set if")},
			{"Increment", func(key []byte) error {
				_, err := s.Increment(t.Context(), testCache, key, 42, longTTL)
				return err
			}, []byte("42")},
		}
		for _, w := range writes {
			key := []byte("written by " + w.name)
			if err := w.write(key); err != nil {
				t.Fatalf("%s(%q) = %v, want nil", w.name, key, err)
			}
			stale := store.Condition{Kind: store.PresentAndHashEqual, Value: store.Hash([]byte("something else"))}
			if stored, err := s.SetIf(t.Context(), testCache, key, []byte("x"), longTTL, stale); err != nil || stored {
				t.Errorf("SetIf(%s value, present_and_hash_equal another hash) = %v, %v; want false, nil", w.name, stored, err)
			}
			current := store.Condition{Kind: store.PresentAndHashEqual, Value: store.Hash(w.value)}
			if stored, err := s.SetIf(t.Context(), testCache, key, []byte("swapped"), longTTL, current); err != nil || !stored {
				t.Errorf("SetIf(%s value, present_and_hash_equal Hash(%q)) = %v, %v; want true, nil", w.name, w.value, stored, err)
			}
			checkValue(t, s, testCache, key, []byte("swapped"))
		}
	})

	// The comparand is compared bytewise with the hash: the value itself,
	// or a hash in another encoding, does not match.
	t.Run("ComparandIsTheHash", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		key := []byte("k")
		mustSet(t, s, testCache, key, matching, longTTL)
		for _, wrong := range [][]byte{matching, nil, []byte{}, comparand[:len(comparand)-1], append(comparand[:len(comparand):len(comparand)], 0)} {
			cond := store.Condition{Kind: store.PresentAndHashEqual, Value: wrong}
			if stored, err := s.SetIf(t.Context(), testCache, key, []byte("new"), longTTL, cond); err != nil || stored {
				t.Errorf("SetIf(%q, present_and_hash_equal %q) = %v, %v; want false, nil", matching, wrong, stored, err)
			}
		}
		checkValue(t, s, testCache, key, matching)
	})

	// A hash condition on a collection is ErrWrongType, whatever the
	// condition would say, and leaves the collection alone.
	t.Run("Collection", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		key := []byte("a set")
		if err := s.SetUnion(t.Context(), testCache, key, keys("member"), store.CollectionWrite{TTL: longTTL}); err != nil {
			t.Fatalf("SetUnion(%q) = %v, want nil", key, err)
		}
		for _, tc := range tests {
			for _, hash := range [][]byte{comparand, store.Hash([]byte("member"))} {
				stored, err := s.SetIf(t.Context(), testCache, key, []byte("v"), longTTL, store.Condition{Kind: tc.kind, Value: hash})
				if stored {
					t.Errorf("SetIf(a set, %v) stored, want ErrWrongType", tc.kind)
				}
				errorIs(t, "SetIf(a set, "+tc.kind.String()+")", err, store.ErrWrongType)
			}
		}
		typ, found, err := s.ItemType(t.Context(), testCache, key)
		if err != nil || !found || typ != store.ItemSet {
			t.Errorf("ItemType(a set) after the refused SetIfs = %v, %v, %v; want a set", typ, found, err)
		}
	})
}
