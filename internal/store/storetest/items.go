package storetest

import (
	"bytes"
	"slices"
	"testing"

	"github.com/thaw-dev/thaw/internal/store"
)

// testItems covers Get, Set and Delete.
func (h harness) testItems(t *testing.T) {
	t.Run("GetMissing", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		value, found, err := s.Get(t.Context(), testCache, []byte("missing"))
		if err != nil || found || len(value) != 0 {
			t.Errorf("Get(missing) = %q, %v, %v; want nil, false, nil", value, found, err)
		}
	})

	t.Run("SetGet", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		mustSet(t, s, testCache, []byte("k"), []byte("v"), longTTL)
		checkValue(t, s, testCache, []byte("k"), []byte("v"))
	})

	t.Run("Overwrite", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		mustSet(t, s, testCache, []byte("k"), []byte("first"), longTTL)
		mustSet(t, s, testCache, []byte("k"), []byte("second, longer"), longTTL)
		checkValue(t, s, testCache, []byte("k"), []byte("second, longer"))
		mustSet(t, s, testCache, []byte("k"), []byte("3"), longTTL)
		checkValue(t, s, testCache, []byte("k"), []byte("3"))
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		mustSet(t, s, testCache, []byte("k"), []byte("v"), longTTL)
		mustSet(t, s, testCache, []byte("other"), []byte("v"), longTTL)
		for range 2 { // deleting a missing key is not an error
			if err := s.Delete(t.Context(), testCache, []byte("k")); err != nil {
				t.Fatalf("Delete(k) = %v, want nil", err)
			}
			checkValue(t, s, testCache, []byte("k"), nil)
		}
		checkValue(t, s, testCache, []byte("other"), []byte("v"))
	})

	t.Run("ReturnedValueIsStable", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		// Writes of the same length are where a backend would be tempted
		// to reuse the stored bytes.
		mustSet(t, s, testCache, []byte("k"), []byte("100000"), longTTL)
		got, _ := mustGet(t, s, testCache, []byte("k"))
		if _, err := s.Increment(t.Context(), testCache, []byte("k"), 1, longTTL); err != nil {
			t.Fatalf("Increment(k) = %v, want nil", err)
		}
		mustSet(t, s, testCache, []byte("k"), []byte("999999"), longTTL)
		if err := s.Delete(t.Context(), testCache, []byte("k")); err != nil {
			t.Fatalf("Delete(k) = %v, want nil", err)
		}
		if string(got) != "100000" {
			t.Errorf("value returned by Get changed to %q by later writes, want %q", got, "100000")
		}
	})

	t.Run("LargeValue", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		value := bytes.Repeat([]byte("0123456789abcdef"), 64*1024) // 1 MiB
		mustSet(t, s, testCache, []byte("big"), value, longTTL)
		got, found := mustGet(t, s, testCache, []byte("big"))
		if !found || !bytes.Equal(got, value) {
			t.Errorf("Get(big) = %d bytes, found %v; want the %d bytes set", len(got), found, len(value))
		}
	})
}

// testBinary checks that keys and values are arbitrary bytes.
func (h harness) testBinary(t *testing.T) {
	t.Run("EveryByteAsKey", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		all := make([][]byte, 256)
		for b := range 256 {
			all[b] = []byte{byte(b)}
			mustSet(t, s, testCache, all[b], []byte{byte(b), ^byte(b)}, longTTL)
		}
		for b := range 256 {
			checkValue(t, s, testCache, all[b], []byte{byte(b), ^byte(b)})
		}
		exist, err := s.KeysExist(t.Context(), testCache, all)
		if err != nil || len(exist) != 256 || slices.Contains(exist, false) {
			t.Errorf("KeysExist(all 256 one-byte keys) = %v, %v; want all true", exist, err)
		}
	})

	allBytes := make([]byte, 256)
	for b := range allBytes {
		allBytes[b] = byte(b)
	}
	reversed := slices.Clone(allBytes)
	slices.Reverse(reversed)

	tests := []struct {
		name       string
		key, value []byte
	}{
		{"AllBytesKeyAndValue", allBytes, reversed},
		{"NULs", []byte{0, 0, 0}, []byte{0}},
		{"InvalidUTF8", []byte{0xff, 0xfe, 0xc3, 0x28}, []byte{0xc3, 0x28, 0xa0, 0xa1}},
		{"EmptyValue", []byte("empty"), []byte{}},
		{"NilValue", []byte("nil"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := h.openWithCache(t)
			mustSet(t, s, testCache, tc.key, tc.value, longTTL)
			got, found := mustGet(t, s, testCache, tc.key)
			if !found || !bytes.Equal(got, tc.value) {
				t.Errorf("Get(%q) = %s, want %q", tc.key, describe(got, found), tc.value)
			}
			exist, err := s.KeysExist(t.Context(), testCache, [][]byte{tc.key})
			if want := []bool{true}; err != nil || !slices.Equal(exist, want) {
				t.Errorf("KeysExist(%q) = %v, %v; want %v, nil", tc.key, exist, err, want)
			}
		})
	}

	t.Run("KeysDifferingInTrailingBytes", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		ks := [][]byte{[]byte("a"), []byte("a\x00"), []byte("a\x00\x00"), []byte("A"), []byte("\x00a")}
		for i, k := range ks {
			mustSet(t, s, testCache, k, []byte{byte('0' + i)}, longTTL)
		}
		for i, k := range ks {
			checkValue(t, s, testCache, k, []byte{byte('0' + i)})
		}
	})
}

// testKeysExist checks that KeysExist answers for each key in order.
func (h harness) testKeysExist(t *testing.T) {
	s := h.openWithCache(t)
	mustSet(t, s, testCache, []byte("a"), []byte("1"), longTTL)
	mustSet(t, s, testCache, []byte("c"), []byte("3"), longTTL)
	mustSet(t, s, testCache, []byte("empty"), []byte{}, longTTL)
	tests := []struct {
		name string
		keys []string
		want []bool
	}{
		{"None", nil, []bool{}},
		{"OnePresent", []string{"a"}, []bool{true}},
		{"OneMissing", []string{"b"}, []bool{false}},
		{"Order", []string{"c", "b", "a", "d"}, []bool{true, false, true, false}},
		{"Repeated", []string{"a", "a", "b", "a"}, []bool{true, true, false, true}},
		{"EmptyValueExists", []string{"empty"}, []bool{true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.KeysExist(t.Context(), testCache, keys(tc.keys...))
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("KeysExist(%q) = %v, %v; want %v, nil", tc.keys, got, err, tc.want)
			}
		})
	}
}

// testItemType checks that a stored value is a scalar.
func (h harness) testItemType(t *testing.T) {
	s := h.openWithCache(t)
	mustSet(t, s, testCache, []byte("scalar"), []byte("v"), longTTL)
	if _, err := s.Increment(t.Context(), testCache, []byte("counter"), 1, longTTL); err != nil {
		t.Fatalf("Increment(counter) = %v, want nil", err)
	}
	tests := []struct {
		key       string
		wantFound bool
	}{
		{"scalar", true},
		{"counter", true},
		{"missing", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			typ, found, err := s.ItemType(t.Context(), testCache, []byte(tc.key))
			if err != nil || found != tc.wantFound || (found && typ != store.ItemScalar) {
				t.Errorf("ItemType(%q) = %v, %v, %v; want %v, %v, nil", tc.key, typ, found, err, store.ItemScalar, tc.wantFound)
			}
		})
	}
}
