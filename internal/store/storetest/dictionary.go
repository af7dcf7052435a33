package storetest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// dictLong is the write of dictionaries that must not expire.
var dictLong = store.CollectionWrite{TTL: longTTL, RefreshTTL: true}

// testDictionary is the conformance section of the Dictionary operations.
func (h harness) testDictionary(t *testing.T) {
	groups := []struct {
		name string
		run  func(*testing.T)
	}{
		{"Get", h.testDictionaryGet},
		{"Fetch", h.testDictionaryFetch},
		{"Set", h.testDictionarySet},
		{"Increment", h.testDictionaryIncrement},
		{"Remove", h.testDictionaryRemove},
		{"Delete", h.testDictionaryDelete},
		{"Length", h.testDictionaryLength},
		{"WrongType", h.testDictionaryWrongType},
		{"ItemOperations", h.testDictionaryItemOperations},
		{"TTL", h.testDictionaryTTL},
		{"Expired", h.testDictionaryExpired},
		{"MaxSize", h.testDictionaryMaxSize},
		{"Binary", h.testDictionaryBinary},
		{"UnknownCache", h.testDictionaryUnknownCache},
		{"Concurrency", h.testDictionaryConcurrency},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t)
		})
	}
}

// dictFields builds dictionary fields from alternating names and values.
func dictFields(kv ...string) []store.DictionaryField {
	if len(kv)%2 != 0 {
		panic("dictFields needs pairs of name and value")
	}
	out := make([]store.DictionaryField, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out = append(out, store.DictionaryField{Field: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return out
}

// dictMap builds the contents of a dictionary from alternating names and values.
func dictMap(kv ...string) map[string]string {
	m := map[string]string{}
	for _, f := range dictFields(kv...) {
		m[string(f.Field)] = string(f.Value)
	}
	return m
}

func mustDictionarySet(t *testing.T, s store.Store, key string, w store.CollectionWrite, kv ...string) {
	t.Helper()
	if err := s.DictionarySet(t.Context(), testCache, []byte(key), dictFields(kv...), w); err != nil {
		t.Fatalf("DictionarySet(%q, %q) = %v, want nil", key, kv, err)
	}
}

// dictionaryContents returns the dictionary under key as a map, or nil when
// DictionaryFetch does not find it. It fails t on an error or a field
// fetched twice.
func dictionaryContents(t *testing.T, s store.Store, key string) map[string]string {
	t.Helper()
	fields, found, err := s.DictionaryFetch(t.Context(), testCache, []byte(key))
	if err != nil {
		t.Fatalf("DictionaryFetch(%q) = %v, want nil error", key, err)
	}
	if !found {
		if len(fields) != 0 {
			t.Errorf("DictionaryFetch(%q) = %d fields, not found; want none", key, len(fields))
		}
		return nil
	}
	m := make(map[string]string, len(fields))
	for _, f := range fields {
		if _, dup := m[string(f.Field)]; dup {
			t.Errorf("DictionaryFetch(%q) returned field %q twice", key, f.Field)
		}
		m[string(f.Field)] = string(f.Value)
	}
	return m
}

// checkDictionary fails t unless the dictionary under key holds exactly want,
// or does not exist when want is nil, as DictionaryFetch, DictionaryLength
// and ItemType all tell.
func checkDictionary(t *testing.T, s store.Store, key string, want map[string]string) {
	t.Helper()
	got := dictionaryContents(t, s, key)
	switch {
	case want == nil && got != nil:
		t.Errorf("DictionaryFetch(%q) = %q, want not found", key, got)
	case want != nil && got == nil:
		t.Errorf("DictionaryFetch(%q) = not found, want %q", key, want)
	case !maps.Equal(got, want):
		t.Errorf("DictionaryFetch(%q) = %q, want %q", key, got, want)
	}
	n, found, err := s.DictionaryLength(t.Context(), testCache, []byte(key))
	if err != nil || found != (want != nil) || n != len(want) {
		t.Errorf("DictionaryLength(%q) = %d, %v, %v; want %d, %v, nil", key, n, found, err, len(want), want != nil)
	}
	typ, found, err := s.ItemType(t.Context(), testCache, []byte(key))
	if err != nil || found != (want != nil) || (found && typ != store.ItemDictionary) {
		t.Errorf("ItemType(%q) = %v, %v, %v; want %v, %v, nil", key, typ, found, err, store.ItemDictionary, want != nil)
	}
}

// dictGetResult renders DictionaryGet answers for failure messages.
func dictGetResult(values []store.DictionaryValue) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, v := range values {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(describe(v.Value, v.Found))
	}
	b.WriteByte(']')
	return b.String()
}

func (h harness) testDictionaryGet(t *testing.T) {
	s := h.openWithCache(t)
	mustDictionarySet(t, s, "d", dictLong, "a", "1", "b", "", "c", "3")
	hit := func(v string) store.DictionaryValue { return store.DictionaryValue{Value: []byte(v), Found: true} }
	miss := store.DictionaryValue{}
	tests := []struct {
		name      string
		key       string
		fields    []string
		want      []store.DictionaryValue
		wantFound bool
	}{
		{"OneHit", "d", []string{"a"}, []store.DictionaryValue{hit("1")}, true},
		{"OneMiss", "d", []string{"zz"}, []store.DictionaryValue{miss}, true},
		{"RequestOrder", "d", []string{"c", "zz", "a", "b"}, []store.DictionaryValue{hit("3"), miss, hit("1"), hit("")}, true},
		{"Repeated", "d", []string{"a", "a", "zz", "zz"}, []store.DictionaryValue{hit("1"), hit("1"), miss, miss}, true},
		{"EmptyValueIsHit", "d", []string{"b"}, []store.DictionaryValue{hit("")}, true},
		{"NoFields", "d", nil, []store.DictionaryValue{}, true},
		{"MissingDictionary", "missing", []string{"a"}, nil, false},
		{"MissingDictionaryNoFields", "missing", nil, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found, err := s.DictionaryGet(t.Context(), testCache, []byte(tc.key), keys(tc.fields...))
			if err != nil || found != tc.wantFound || len(got) != len(tc.want) {
				t.Fatalf("DictionaryGet(%q, %q) = %s, %v, %v; want %s, %v, nil", tc.key, tc.fields, dictGetResult(got), found, err, dictGetResult(tc.want), tc.wantFound)
			}
			for i := range got {
				if got[i].Found != tc.want[i].Found || !bytes.Equal(got[i].Value, tc.want[i].Value) {
					t.Errorf("DictionaryGet(%q, %q) = %s, want %s", tc.key, tc.fields, dictGetResult(got), dictGetResult(tc.want))
					break
				}
			}
		})
	}
}

func (h harness) testDictionaryFetch(t *testing.T) {
	s := h.openWithCache(t)
	mustDictionarySet(t, s, "d", dictLong, "a", "1", "b", "", "c", "3")
	big := make([]string, 0, 2000)
	for i := range 1000 {
		big = append(big, fmt.Sprintf("field-%d", i), strconv.Itoa(i))
	}
	mustDictionarySet(t, s, "big", dictLong, big...)
	tests := []struct {
		name string
		key  string
		want map[string]string
	}{
		{"All", "d", dictMap("a", "1", "b", "", "c", "3")},
		{"Large", "big", dictMap(big...)},
		{"Missing", "missing", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkDictionary(t, s, tc.key, tc.want)
		})
	}
}

func (h harness) testDictionarySet(t *testing.T) {
	tests := []struct {
		name   string
		writes [][]string // the fields of each DictionarySet, in order
		want   map[string]string
	}{
		{"Creates", [][]string{{"a", "1"}}, dictMap("a", "1")},
		{"CreatesMany", [][]string{{"a", "1", "b", "2", "c", "3"}}, dictMap("a", "1", "b", "2", "c", "3")},
		{"AddsAndReplaces", [][]string{{"a", "1", "b", "2"}, {"b", "3", "c", "4"}}, dictMap("a", "1", "b", "3", "c", "4")},
		{"ReplacesWithLonger", [][]string{{"a", "1"}, {"a", "a much longer value"}}, dictMap("a", "a much longer value")},
		{"ReplacesWithEmpty", [][]string{{"a", "1"}, {"a", ""}}, dictMap("a", "")},
		{"RepeatedFieldLastWins", [][]string{{"a", "1", "b", "2", "a", "3"}}, dictMap("a", "3", "b", "2")},
		{"EmptyValue", [][]string{{"a", ""}}, dictMap("a", "")},
		{"EmptyFieldName", [][]string{{"", "v"}}, dictMap("", "v")},
		{"NoFieldsCreatesNothing", [][]string{{}}, nil},
		{"NoFieldsKeepsExisting", [][]string{{"a", "1"}, {}}, dictMap("a", "1")},
	}
	s := h.openWithCache(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, w := range tc.writes {
				mustDictionarySet(t, s, tc.name, dictLong, w...)
			}
			checkDictionary(t, s, tc.name, tc.want)
		})
	}
}

func (h harness) testDictionaryIncrement(t *testing.T) {
	maxInt := strconv.FormatInt(math.MaxInt64, 10)
	minInt := strconv.FormatInt(math.MinInt64, 10)
	const other = "other" // a field every existing dictionary also holds
	tests := []struct {
		name    string
		exists  bool   // whether the dictionary exists before
		initial string // the field's value before, if has
		has     bool   // whether the field exists before
		amount  int64
		want    int64
		wantErr error
	}{
		{"CreatesDictionary", false, "", false, 5, 5, nil},
		{"CreatesDictionaryZero", false, "", false, 0, 0, nil},
		{"CreatesDictionaryNegative", false, "", false, -7, -7, nil},
		{"CreatesField", true, "", false, 42, 42, nil},
		{"CreatesFieldZero", true, "", false, 0, 0, nil},
		{"Adds", true, "10", true, 5, 15, nil},
		{"AddsZero", true, "10", true, 0, 10, nil},
		{"AddsNegative", true, "10", true, -1042, -1032, nil},
		{"AddsToNegative", true, "-3", true, 3, 0, nil},
		{"ReachesMax", true, strconv.FormatInt(math.MaxInt64-1, 10), true, 1, math.MaxInt64, nil},
		{"ReachesMin", true, strconv.FormatInt(math.MinInt64+1, 10), true, -1, math.MinInt64, nil},
		{"MaxPlusMin", true, maxInt, true, math.MinInt64, -1, nil},
		{"Overflow", true, maxInt, true, 1, 0, store.ErrOverflow},
		{"OverflowLarge", true, "1", true, math.MaxInt64, 0, store.ErrOverflow},
		{"Underflow", true, minInt, true, -1, 0, store.ErrOverflow},
		{"UnderflowLarge", true, "-2", true, math.MinInt64, 0, store.ErrOverflow},
		{"NotIntegerWord", true, "abcxyz", true, 1, 0, store.ErrNotInteger},
		{"NotIntegerZeroAmount", true, "notanumber", true, 0, 0, store.ErrNotInteger},
		{"NotIntegerEmpty", true, "", true, 1, 0, store.ErrNotInteger},
		{"NotIntegerDecimal", true, "1.5", true, 1, 0, store.ErrNotInteger},
		{"NotIntegerLeadingSpace", true, " 1", true, 1, 0, store.ErrNotInteger},
		{"NotIntegerTrailingSpace", true, "1 ", true, 1, 0, store.ErrNotInteger},
		{"NotIntegerHex", true, "0x10", true, 1, 0, store.ErrNotInteger},
		{"NotIntegerOutOfRange", true, "99999999999999999999", true, 1, 0, store.ErrNotInteger},
		{"NotIntegerBinary", true, "\xff1", true, 1, 0, store.ErrNotInteger},
	}
	s := h.openWithCache(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := tc.name
			var before map[string]string
			if tc.exists {
				before = dictMap(other, "x")
				if tc.has {
					before["n"] = tc.initial
				}
				for f, v := range before {
					mustDictionarySet(t, s, key, dictLong, f, v)
				}
			}
			got, err := s.DictionaryIncrement(t.Context(), testCache, []byte(key), []byte("n"), tc.amount, dictLong)
			if tc.wantErr != nil {
				errorIs(t, fmt.Sprintf("DictionaryIncrement(%q, %d)", tc.initial, tc.amount), err, tc.wantErr)
				checkDictionary(t, s, key, before) // unchanged
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("DictionaryIncrement(%q, %d) = %d, %v; want %d, nil", tc.initial, tc.amount, got, err, tc.want)
			}
			want := maps.Clone(before)
			if want == nil {
				want = map[string]string{}
			}
			want["n"] = strconv.FormatInt(tc.want, 10)
			checkDictionary(t, s, key, want)
		})
	}

	t.Run("Sequence", func(t *testing.T) {
		t.Parallel()
		// The steps of the SDKs' "increments from 0 to expected amount".
		for _, step := range []struct{ amount, want int64 }{{1, 1}, {41, 42}, {-1042, -1000}} {
			got, err := s.DictionaryIncrement(t.Context(), testCache, []byte("sequence"), []byte("n"), step.amount, dictLong)
			if err != nil || got != step.want {
				t.Fatalf("DictionaryIncrement(%d) = %d, %v; want %d, nil", step.amount, got, err, step.want)
			}
		}
		checkDictionary(t, s, "sequence", dictMap("n", "-1000"))
	})

	t.Run("AfterSet", func(t *testing.T) {
		t.Parallel()
		mustDictionarySet(t, s, "afterset", dictLong, "n", "10")
		got, err := s.DictionaryIncrement(t.Context(), testCache, []byte("afterset"), []byte("n"), 0, dictLong)
		if err != nil || got != 10 {
			t.Fatalf("DictionaryIncrement(10, 0) = %d, %v; want 10, nil", got, err)
		}
		mustDictionarySet(t, s, "afterset", dictLong, "n", "-20")
		got, err = s.DictionaryIncrement(t.Context(), testCache, []byte("afterset"), []byte("n"), 5, dictLong)
		if err != nil || got != -15 {
			t.Fatalf("DictionaryIncrement(-20, 5) = %d, %v; want -15, nil", got, err)
		}
	})

	t.Run("FieldsAreIndependent", func(t *testing.T) {
		t.Parallel()
		for _, f := range []string{"a", "b", "a", "a"} {
			if _, err := s.DictionaryIncrement(t.Context(), testCache, []byte("independent"), []byte(f), 1, dictLong); err != nil {
				t.Fatalf("DictionaryIncrement(%q) = %v, want nil", f, err)
			}
		}
		checkDictionary(t, s, "independent", dictMap("a", "3", "b", "1"))
	})
}

func (h harness) testDictionaryRemove(t *testing.T) {
	tests := []struct {
		name    string
		initial []string   // the dictionary's fields before; nil: it does not exist
		removes [][]string // the fields of each DictionaryRemove, in order
		want    map[string]string
	}{
		{"One", []string{"a", "1", "b", "2"}, [][]string{{"a"}}, dictMap("b", "2")},
		{"Some", []string{"a", "1", "b", "2", "c", "3"}, [][]string{{"a", "c"}}, dictMap("b", "2")},
		{"AbsentFieldIsNoOp", []string{"a", "1"}, [][]string{{"zz"}}, dictMap("a", "1")},
		{"MixedPresentAndAbsent", []string{"a", "1", "b", "2"}, [][]string{{"zz", "b", "yy"}}, dictMap("a", "1")},
		{"Repeated", []string{"a", "1", "b", "2"}, [][]string{{"a", "a"}}, dictMap("b", "2")},
		{"NoFields", []string{"a", "1"}, [][]string{{}}, dictMap("a", "1")},
		{"EmptyValueField", []string{"a", "", "b", "2"}, [][]string{{"a"}}, dictMap("b", "2")},
		{"LastFieldDeletesDictionary", []string{"a", "1"}, [][]string{{"a"}}, nil},
		{"AllFieldsDeleteDictionary", []string{"a", "1", "b", "2", "c", "3"}, [][]string{{"a", "b", "c"}}, nil},
		{"OneByOneDeletesDictionary", []string{"a", "1", "b", "2"}, [][]string{{"a"}, {"b"}}, nil},
		{"MissingDictionaryIsNoOp", nil, [][]string{{"a"}}, nil},
		{"MissingDictionaryNoFields", nil, [][]string{{}}, nil},
	}
	s := h.openWithCache(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.initial != nil {
				mustDictionarySet(t, s, tc.name, dictLong, tc.initial...)
			}
			for _, fields := range tc.removes {
				if err := s.DictionaryRemove(t.Context(), testCache, []byte(tc.name), keys(fields...)); err != nil {
					t.Fatalf("DictionaryRemove(%q) = %v, want nil", fields, err)
				}
			}
			checkDictionary(t, s, tc.name, tc.want)
		})
	}

	t.Run("EmptiedIsGoneForEveryMethod", func(t *testing.T) {
		t.Parallel()
		mustDictionarySet(t, s, "emptied", dictLong, "a", "1")
		if err := s.DictionaryRemove(t.Context(), testCache, []byte("emptied"), keys("a")); err != nil {
			t.Fatalf("DictionaryRemove(a) = %v, want nil", err)
		}
		checkDictionary(t, s, "emptied", nil)
		if values, found, err := s.DictionaryGet(t.Context(), testCache, []byte("emptied"), keys("a")); err != nil || found {
			t.Errorf("DictionaryGet(emptied, a) = %s, %v, %v; want not found", dictGetResult(values), found, err)
		}
		if got, err := s.KeysExist(t.Context(), testCache, keys("emptied")); err != nil || len(got) != 1 || got[0] {
			t.Errorf("KeysExist(emptied) = %v, %v; want [false], nil", got, err)
		}
		if remaining, found := mustItemTTL(t, s, testCache, []byte("emptied")); found {
			t.Errorf("ItemTTL(emptied) = %v, found; want not found", remaining)
		}
		// The key is free for any kind of item.
		mustSet(t, s, testCache, []byte("emptied"), []byte("scalar"), longTTL)
		checkValue(t, s, testCache, []byte("emptied"), []byte("scalar"))
	})
}

func (h harness) testDictionaryDelete(t *testing.T) {
	s := h.openWithCache(t)
	t.Run("Deletes", func(t *testing.T) {
		t.Parallel()
		mustDictionarySet(t, s, "deletes", dictLong, "a", "1", "b", "2")
		if err := s.DictionaryDelete(t.Context(), testCache, []byte("deletes")); err != nil {
			t.Fatalf("DictionaryDelete(deletes) = %v, want nil", err)
		}
		checkDictionary(t, s, "deletes", nil)
	})
	t.Run("MissingIsNoOp", func(t *testing.T) {
		t.Parallel()
		if err := s.DictionaryDelete(t.Context(), testCache, []byte("missing")); err != nil {
			t.Fatalf("DictionaryDelete(missing) = %v, want nil", err)
		}
		checkDictionary(t, s, "missing", nil)
	})
	t.Run("RecreatedWithNewTTL", func(t *testing.T) {
		t.Parallel()
		mustDictionarySet(t, s, "recreated", dictLong, "a", "1")
		if err := s.DictionaryDelete(t.Context(), testCache, []byte("recreated")); err != nil {
			t.Fatalf("DictionaryDelete(recreated) = %v, want nil", err)
		}
		// Without refresh, a new dictionary still takes the write's TTL.
		mustDictionarySet(t, s, "recreated", store.CollectionWrite{TTL: time.Minute}, "b", "2")
		checkDictionary(t, s, "recreated", dictMap("b", "2"))
		checkRemaining(t, s, testCache, []byte("recreated"), 0, time.Minute)
	})
}

func (h harness) testDictionaryLength(t *testing.T) {
	s := h.openWithCache(t)
	mustDictionarySet(t, s, "one", dictLong, "a", "1")
	mustDictionarySet(t, s, "three", dictLong, "a", "1", "b", "", "c", "3")
	mustDictionarySet(t, s, "three", dictLong, "a", "replaced")
	tests := []struct {
		key       string
		want      int
		wantFound bool
	}{
		{"one", 1, true},
		{"three", 3, true},
		{"missing", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			n, found, err := s.DictionaryLength(t.Context(), testCache, []byte(tc.key))
			if err != nil || found != tc.wantFound || n != tc.want {
				t.Errorf("DictionaryLength(%q) = %d, %v, %v; want %d, %v, nil", tc.key, n, found, err, tc.want, tc.wantFound)
			}
		})
	}
}

// dictionaryOps calls every Dictionary operation on key, for the tests that
// check the error of each.
var dictionaryOps = []struct {
	name string
	call func(ctx context.Context, s store.Store, cache string, key []byte) error
}{
	{"DictionaryGet", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.DictionaryGet(ctx, cache, key, keys("a"))
		return err
	}},
	{"DictionaryGetNoFields", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.DictionaryGet(ctx, cache, key, nil)
		return err
	}},
	{"DictionaryFetch", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.DictionaryFetch(ctx, cache, key)
		return err
	}},
	{"DictionarySet", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		return s.DictionarySet(ctx, cache, key, dictFields("a", "1"), dictLong)
	}},
	{"DictionarySetNoFields", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		return s.DictionarySet(ctx, cache, key, nil, dictLong)
	}},
	{"DictionaryIncrement", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, err := s.DictionaryIncrement(ctx, cache, key, []byte("n"), 1, dictLong)
		return err
	}},
	{"DictionaryRemove", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		return s.DictionaryRemove(ctx, cache, key, keys("a"))
	}},
	{"DictionaryRemoveNoFields", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		return s.DictionaryRemove(ctx, cache, key, nil)
	}},
	{"DictionaryDelete", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		return s.DictionaryDelete(ctx, cache, key)
	}},
	{"DictionaryLength", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.DictionaryLength(ctx, cache, key)
		return err
	}},
}

// testDictionaryWrongType checks that Dictionary operations refuse keys
// holding other kinds of items, and scalar operations refuse dictionaries,
// changing nothing either way.
func (h harness) testDictionaryWrongType(t *testing.T) {
	s := h.openWithCache(t)
	mustSet(t, s, testCache, []byte("scalar"), []byte("7"), longTTL)
	if err := s.SetUnion(t.Context(), testCache, []byte("set"), keys("m"), dictLong); err != nil {
		t.Fatalf("SetUnion(set, m) = %v, want nil", err)
	}
	for _, target := range []string{"scalar", "set"} {
		for _, op := range dictionaryOps {
			t.Run(op.name+"On"+target, func(t *testing.T) {
				errorIs(t, fmt.Sprintf("%s(%s)", op.name, target), op.call(t.Context(), s, testCache, []byte(target)), store.ErrWrongType)
			})
		}
	}
	checkValue(t, s, testCache, []byte("scalar"), []byte("7"))
	if members, found, err := s.SetFetch(t.Context(), testCache, []byte("set")); err != nil || !found || len(members) != 1 || string(members[0]) != "m" {
		t.Errorf("SetFetch(set) = %q, %v, %v; want [m], true, nil", members, found, err)
	}

	mustDictionarySet(t, s, "dict", dictLong, "a", "1")
	scalarOps := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Get", func(ctx context.Context) error {
			_, _, err := s.Get(ctx, testCache, []byte("dict"))
			return err
		}},
		{"SetIf", func(ctx context.Context) error {
			_, err := s.SetIf(ctx, testCache, []byte("dict"), []byte("v"), longTTL, store.Condition{Kind: store.Present})
			return err
		}},
		{"Increment", func(ctx context.Context) error {
			_, err := s.Increment(ctx, testCache, []byte("dict"), 1, longTTL)
			return err
		}},
		{"SetUnion", func(ctx context.Context) error {
			return s.SetUnion(ctx, testCache, []byte("dict"), keys("m"), dictLong)
		}},
	}
	for _, op := range scalarOps {
		t.Run(op.name+"OnDictionary", func(t *testing.T) {
			errorIs(t, op.name+"(dict)", op.call(t.Context()), store.ErrWrongType)
		})
	}
	checkDictionary(t, s, "dict", dictMap("a", "1"))
}

// testDictionaryItemOperations checks the operations that work on every
// kind of item against a dictionary.
func (h harness) testDictionaryItemOperations(t *testing.T) {
	s := h.openWithCache(t)
	t.Run("ItemTypeAndKeysExist", func(t *testing.T) {
		t.Parallel()
		mustDictionarySet(t, s, "typed", dictLong, "a", "1")
		checkDictionary(t, s, "typed", dictMap("a", "1"))
		if got, err := s.KeysExist(t.Context(), testCache, keys("typed", "nothing")); err != nil || len(got) != 2 || !got[0] || got[1] {
			t.Errorf("KeysExist(typed, nothing) = %v, %v; want [true false], nil", got, err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		mustDictionarySet(t, s, "deleted", dictLong, "a", "1")
		if err := s.Delete(t.Context(), testCache, []byte("deleted")); err != nil {
			t.Fatalf("Delete(deleted) = %v, want nil", err)
		}
		checkDictionary(t, s, "deleted", nil)
	})
	t.Run("SetReplaces", func(t *testing.T) {
		t.Parallel()
		mustDictionarySet(t, s, "replaced", dictLong, "a", "1")
		mustSet(t, s, testCache, []byte("replaced"), []byte("scalar"), longTTL)
		checkValue(t, s, testCache, []byte("replaced"), []byte("scalar"))
		_, _, err := s.DictionaryFetch(t.Context(), testCache, []byte("replaced"))
		errorIs(t, "DictionaryFetch(replaced)", err, store.ErrWrongType)
	})
	t.Run("UpdateTTL", func(t *testing.T) {
		t.Parallel()
		mustDictionarySet(t, s, "updated", store.CollectionWrite{TTL: time.Minute}, "a", "1")
		result, err := s.UpdateTTL(t.Context(), testCache, []byte("updated"), store.IncreaseTo, longTTL)
		if err != nil || result != store.TTLSet {
			t.Fatalf("UpdateTTL(updated, increase to %v) = %v, %v; want %v, nil", longTTL, result, err, store.TTLSet)
		}
		checkRemaining(t, s, testCache, []byte("updated"), longTTL/2, longTTL)
		result, err = s.UpdateTTL(t.Context(), testCache, []byte("updated"), store.OverwriteTo, shortTTL)
		if err != nil || result != store.TTLSet {
			t.Fatalf("UpdateTTL(updated, overwrite to %v) = %v, %v; want %v, nil", shortTTL, result, err, store.TTLSet)
		}
		eventually(t, "the dictionary to expire after UpdateTTL", func() bool {
			return dictionaryContents(t, s, "updated") == nil
		})
	})
}

// dictionaryWrites are the Dictionary operations that write, for the TTL
// tests: each writes one field of the dictionary under key.
var dictionaryWrites = []struct {
	name  string
	write func(ctx context.Context, s store.Store, key []byte, w store.CollectionWrite) error
}{
	{"DictionarySet", func(ctx context.Context, s store.Store, key []byte, w store.CollectionWrite) error {
		return s.DictionarySet(ctx, testCache, key, dictFields("f", "1"), w)
	}},
	{"DictionaryIncrement", func(ctx context.Context, s store.Store, key []byte, w store.CollectionWrite) error {
		_, err := s.DictionaryIncrement(ctx, testCache, key, []byte("f"), 1, w)
		return err
	}},
}

// testDictionaryTTL checks the TTL rules of CollectionWrite: a new
// dictionary takes the write's TTL, RefreshTTL resets an existing one's
// (shorter or longer), and without it an existing one keeps its expiry, as
// it does through removals.
func (h harness) testDictionaryTTL(t *testing.T) {
	s := h.openWithCache(t)
	const medium = time.Minute // neither expires during a test nor reaches longTTL/2
	for _, op := range dictionaryWrites {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			checkCollectionTTLRules(t, s, op.name, "dictionary", dictLong, func(ctx context.Context, key []byte, w store.CollectionWrite) error { return op.write(ctx, s, key, w) },
				func(t *testing.T, key string) bool { return dictionaryContents(t, s, key) == nil })
		})
	}
	t.Run("NoFieldsRefreshes", func(t *testing.T) {
		t.Parallel()
		mustDictionarySet(t, s, "nofields", store.CollectionWrite{TTL: medium}, "a", "1")
		mustDictionarySet(t, s, "nofields", dictLong)
		checkRemaining(t, s, testCache, []byte("nofields"), longTTL/2, longTTL)
	})
	t.Run("RemoveKeepsTTL", func(t *testing.T) {
		t.Parallel()
		mustDictionarySet(t, s, "remove", store.CollectionWrite{TTL: medium}, "a", "1", "b", "2")
		if err := s.DictionaryRemove(t.Context(), testCache, []byte("remove"), keys("a")); err != nil {
			t.Fatalf("DictionaryRemove(a) = %v, want nil", err)
		}
		checkRemaining(t, s, testCache, []byte("remove"), 0, medium)
	})
	t.Run("FailedWriteKeepsTTL", func(t *testing.T) {
		t.Parallel()
		mustDictionarySet(t, s, "failed", store.CollectionWrite{TTL: medium}, "n", "abc")
		_, err := s.DictionaryIncrement(t.Context(), testCache, []byte("failed"), []byte("n"), 1, dictLong)
		errorIs(t, "DictionaryIncrement(abc)", err, store.ErrNotInteger)
		checkRemaining(t, s, testCache, []byte("failed"), 0, medium)
	})
}

// testDictionaryExpired checks that an expired dictionary is absent for
// every operation: reads miss, writes start a new dictionary, and the key
// takes any kind of item.
func (h harness) testDictionaryExpired(t *testing.T) {
	s := h.openWithCache(t)
	expired := []string{"get", "fetch", "length", "set", "increment", "remove", "delete", "scalar"}
	for _, key := range expired {
		mustDictionarySet(t, s, key, store.CollectionWrite{TTL: shortTTL}, "a", "1", "n", "100")
	}
	setExpired(t, s, testCache, nil) // returns once every dictionary above has expired
	ctx := t.Context()

	if values, found, err := s.DictionaryGet(ctx, testCache, []byte("get"), keys("a")); err != nil || found {
		t.Errorf("DictionaryGet(expired) = %s, %v, %v; want not found", dictGetResult(values), found, err)
	}
	if fields, found, err := s.DictionaryFetch(ctx, testCache, []byte("fetch")); err != nil || found {
		t.Errorf("DictionaryFetch(expired) = %d fields, %v, %v; want not found", len(fields), found, err)
	}
	if n, found, err := s.DictionaryLength(ctx, testCache, []byte("length")); err != nil || found {
		t.Errorf("DictionaryLength(expired) = %d, %v, %v; want not found", n, found, err)
	}
	mustDictionarySet(t, s, "set", dictLong, "b", "2")
	checkDictionary(t, s, "set", dictMap("b", "2"))
	if got, err := s.DictionaryIncrement(ctx, testCache, []byte("increment"), []byte("n"), 1, dictLong); err != nil || got != 1 {
		t.Errorf("DictionaryIncrement(expired, 1) = %d, %v; want 1, nil", got, err)
	}
	checkDictionary(t, s, "increment", dictMap("n", "1"))
	if err := s.DictionaryRemove(ctx, testCache, []byte("remove"), keys("a")); err != nil {
		t.Errorf("DictionaryRemove(expired) = %v, want nil", err)
	}
	checkDictionary(t, s, "remove", nil)
	if err := s.DictionaryDelete(ctx, testCache, []byte("delete")); err != nil {
		t.Errorf("DictionaryDelete(expired) = %v, want nil", err)
	}
	checkDictionary(t, s, "delete", nil)
	if got, err := s.Increment(ctx, testCache, []byte("scalar"), 1, longTTL); err != nil || got != 1 {
		t.Errorf("Increment(expired dictionary) = %d, %v; want 1, nil", got, err)
	}
}

// testDictionaryMaxSize checks that CollectionWrite.MaxSize bounds the key
// plus every field name and value, and that a write that would exceed it
// changes nothing.
func (h harness) testDictionaryMaxSize(t *testing.T) {
	s := h.openWithCache(t)
	const limit = 20
	w := store.CollectionWrite{TTL: longTTL, RefreshTTL: true, MaxSize: limit}
	pad := func(n int) string { return string(bytes.Repeat([]byte("x"), n)) }
	set := func(key string, kv ...string) error {
		return s.DictionarySet(t.Context(), testCache, []byte(key), dictFields(kv...), w)
	}

	t.Run("Set", func(t *testing.T) {
		t.Parallel()
		// "s" + "a" + 18 bytes fills the limit exactly.
		if err := set("s", "a", pad(18)); err != nil {
			t.Fatalf("DictionarySet to exactly %d bytes = %v, want nil", limit, err)
		}
		tests := []struct {
			name    string
			kv      []string
			wantErr bool
		}{
			{"NewField", []string{"b", ""}, true},
			{"NewEmptyField", []string{"", ""}, false}, // an empty name and value add nothing
			{"LongerValue", []string{"a", pad(19)}, true},
			{"SameSize", []string{"a", pad(18)}, false},
			{"ShorterThenNew", []string{"a", pad(10), "b", pad(7)}, false},
		}
		for _, tc := range tests {
			before := dictionaryContents(t, s, "s")
			err := set("s", tc.kv...)
			if tc.wantErr {
				errorIs(t, fmt.Sprintf("DictionarySet(%s)", tc.name), err, store.ErrItemTooLarge)
				checkDictionary(t, s, "s", before)
				continue
			}
			if err != nil {
				t.Fatalf("DictionarySet(%s) = %v, want nil", tc.name, err)
			}
		}
		checkDictionary(t, s, "s", dictMap("a", pad(10), "b", pad(7), "", ""))
	})

	t.Run("NewDictionaryTooLarge", func(t *testing.T) {
		t.Parallel()
		err := set("n", "a", pad(10), "b", pad(10))
		errorIs(t, "DictionarySet(21 bytes)", err, store.ErrItemTooLarge)
		checkDictionary(t, s, "n", nil)
		if got, err := s.KeysExist(t.Context(), testCache, keys("n")); err != nil || len(got) != 1 || got[0] {
			t.Errorf("KeysExist(n) = %v, %v; want [false], nil", got, err)
		}
	})

	t.Run("RepeatedFieldCountsOnce", func(t *testing.T) {
		t.Parallel()
		if err := set("r", "a", pad(18), "a", pad(18)); err != nil {
			t.Fatalf("DictionarySet(a twice, %d bytes once) = %v, want nil", limit, err)
		}
		checkDictionary(t, s, "r", dictMap("a", pad(18)))
	})

	t.Run("Increment", func(t *testing.T) {
		t.Parallel()
		// "i" + "n" + "9" + "b" + 16 bytes = 20.
		if err := set("i", "n", "9", "b", pad(16)); err != nil {
			t.Fatalf("DictionarySet to exactly %d bytes = %v, want nil", limit, err)
		}
		_, err := s.DictionaryIncrement(t.Context(), testCache, []byte("i"), []byte("n"), 1, w)
		errorIs(t, "DictionaryIncrement(9, 1) past the limit", err, store.ErrItemTooLarge)
		_, err = s.DictionaryIncrement(t.Context(), testCache, []byte("i"), []byte("m"), 1, w)
		errorIs(t, "DictionaryIncrement(new field) past the limit", err, store.ErrItemTooLarge)
		checkDictionary(t, s, "i", dictMap("n", "9", "b", pad(16)))
		if got, err := s.DictionaryIncrement(t.Context(), testCache, []byte("i"), []byte("n"), -1, w); err != nil || got != 8 {
			t.Fatalf("DictionaryIncrement(9, -1) = %d, %v; want 8, nil", got, err)
		}
		checkDictionary(t, s, "i", dictMap("n", "8", "b", pad(16)))
	})

	t.Run("IncrementNewDictionaryTooLarge", func(t *testing.T) {
		t.Parallel()
		small := store.CollectionWrite{TTL: longTTL, MaxSize: 3}
		_, err := s.DictionaryIncrement(t.Context(), testCache, []byte("k"), []byte("n"), 10, small)
		errorIs(t, "DictionaryIncrement(k, n, 10) over 3 bytes", err, store.ErrItemTooLarge)
		checkDictionary(t, s, "k", nil)
	})

	t.Run("ZeroMeansNoBound", func(t *testing.T) {
		t.Parallel()
		big := pad(1 << 16)
		mustDictionarySet(t, s, "unbounded", store.CollectionWrite{TTL: longTTL}, "a", big)
		checkDictionary(t, s, "unbounded", dictMap("a", big))
	})
}

// testDictionaryBinary checks that names, fields and values are arbitrary
// bytes, compared byte for byte.
func (h harness) testDictionaryBinary(t *testing.T) {
	s := h.openWithCache(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	key := []byte("bin\x00\xff")
	fields := []store.DictionaryField{
		{Field: all, Value: all},
		{Field: []byte("a"), Value: []byte("plain")},
		{Field: []byte("a\x00"), Value: []byte("with NUL")},
		{Field: []byte("\xff\xfe"), Value: []byte{0}},
		{Field: []byte("A"), Value: []byte("upper")},
	}
	if err := s.DictionarySet(t.Context(), testCache, key, fields, dictLong); err != nil {
		t.Fatalf("DictionarySet(binary) = %v, want nil", err)
	}
	got, found, err := s.DictionaryGet(t.Context(), testCache, key, [][]byte{[]byte("a\x00"), all, []byte("a"), []byte("\x00a"), []byte("A"), []byte("\xff\xfe")})
	want := []store.DictionaryValue{
		{Value: []byte("with NUL"), Found: true},
		{Value: all, Found: true},
		{Value: []byte("plain"), Found: true},
		{},
		{Value: []byte("upper"), Found: true},
		{Value: []byte{0}, Found: true},
	}
	if err != nil || !found || len(got) != len(want) {
		t.Fatalf("DictionaryGet(binary) = %s, %v, %v; want %s, true, nil", dictGetResult(got), found, err, dictGetResult(want))
	}
	for i := range want {
		if got[i].Found != want[i].Found || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Errorf("DictionaryGet(binary)[%d] = %s, want %s", i, describe(got[i].Value, got[i].Found), describe(want[i].Value, want[i].Found))
		}
	}
	wantAll := map[string]string{}
	for _, f := range fields {
		wantAll[string(f.Field)] = string(f.Value)
	}
	checkDictionary(t, s, string(key), wantAll)
	if _, found, err := s.DictionaryFetch(t.Context(), testCache, []byte("bin")); err != nil || found {
		t.Errorf("DictionaryFetch(bin) = %v, %v; want not found (the key %q differs)", found, err, key)
	}
}

// testDictionaryUnknownCache checks that every Dictionary operation on a
// cache that does not exist fails with ErrCacheNotFound.
func (h harness) testDictionaryUnknownCache(t *testing.T) {
	s := h.openWithCache(t)
	for _, op := range dictionaryOps {
		t.Run(op.name, func(t *testing.T) {
			errorIs(t, op.name+"(no such cache)", op.call(t.Context(), s, "no-such-cache", []byte("d")), store.ErrCacheNotFound)
		})
	}
}

// testDictionaryConcurrency checks that concurrent increments and sets of
// one dictionary are atomic: none is lost.
func (h harness) testDictionaryConcurrency(t *testing.T) {
	s := h.openWithCache(t)
	const workers, perWorker = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				if _, err := s.DictionaryIncrement(context.Background(), testCache, []byte("counted"), []byte("n"), 1, dictLong); err != nil {
					errs <- fmt.Errorf("DictionaryIncrement: %w", err)
				}
				field := fmt.Sprintf("w%d-%d", w, i)
				if err := s.DictionarySet(context.Background(), testCache, []byte("counted"), dictFields(field, "v"), dictLong); err != nil {
					errs <- fmt.Errorf("DictionarySet(%s): %w", field, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	values, found, err := s.DictionaryGet(t.Context(), testCache, []byte("counted"), keys("n"))
	if want := strconv.Itoa(workers * perWorker); err != nil || !found || len(values) != 1 || string(values[0].Value) != want {
		t.Errorf("DictionaryGet(counted, n) = %s, %v, %v; want [%q]", dictGetResult(values), found, err, want)
	}
	if n, found, err := s.DictionaryLength(t.Context(), testCache, []byte("counted")); err != nil || !found || n != workers*perWorker+1 {
		t.Errorf("DictionaryLength(counted) = %d, %v, %v; want %d", n, found, err, workers*perWorker+1)
	}
}
