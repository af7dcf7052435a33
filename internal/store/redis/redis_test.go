package redis

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/storetest"
)

// clusterEnv names the seed list of the cluster the tests run against
// (scripts/redis-cluster.sh start prints it; ./test.sh sets it).
const clusterEnv = "THAW_REDIS_CLUSTER"

// clusterAddrs returns the seeds from THAW_REDIS_CLUSTER, or skips t.
func clusterAddrs(t *testing.T) []string {
	t.Helper()
	v := os.Getenv(clusterEnv)
	if v == "" {
		t.Skipf("%s is not set: start a cluster with scripts/redis-cluster.sh start and set %s to the seed list it prints (./test.sh does both)", clusterEnv, clusterEnv)
	}
	return strings.Split(v, ",")
}

// uniqueNamespace returns a namespace no other test uses, so that tests
// that share the cluster never see each other's caches.
func uniqueNamespace(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "thawtest-" + hex.EncodeToString(b)
}

// openStore opens a store on the test cluster, closed when t ends. Unless
// cfg names one, it gets a namespace of its own.
func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	cfg.Addrs = clusterAddrs(t)
	if cfg.Namespace == "" {
		cfg.Namespace = uniqueNamespace(t)
	}
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New(%v) = %v, want a store", cfg.Addrs, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	clusterAddrs(t)
	open := func(t *testing.T, maxCaches int) store.Store {
		// A store of its own namespace is a store with no caches. A
		// short topic retention keeps the tests that publish past it
		// quick.
		s, err := New(t.Context(), Config{Addrs: clusterAddrs(t), Namespace: uniqueNamespace(t), TopicRetention: 64, MaxCaches: maxCaches})
		if err != nil {
			t.Fatalf("New() = %v, want a store", err)
		}
		return s
	}
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, 0) }, storetest.WithCacheLimit(open))
}

func mustCreate(t *testing.T, s store.Store, name string) {
	t.Helper()
	if err := s.CreateCache(t.Context(), name); err != nil {
		t.Fatalf("CreateCache(%q) = %v, want nil", name, err)
	}
}

func mustSet(t *testing.T, s store.Store, cache string, key, value []byte) {
	t.Helper()
	if err := s.Set(t.Context(), cache, key, value, time.Hour); err != nil {
		t.Fatalf("Set(%q, %q) = %v, want nil", cache, key, err)
	}
}

func checkGet(t *testing.T, s store.Store, cache string, key, want []byte) {
	t.Helper()
	got, found, err := s.Get(t.Context(), cache, key)
	switch {
	case err != nil:
		t.Errorf("Get(%q, %q) = %v, want nil error", cache, key, err)
	case want == nil && found:
		t.Errorf("Get(%q, %q) = %q, want not found", cache, key, got)
	case want != nil && (!found || !bytes.Equal(got, want)):
		t.Errorf("Get(%q, %q) = %q (found %v), want %q", cache, key, got, found, want)
	}
}

// waitSweeps waits until s runs no sweep.
func waitSweeps(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.sweeps)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sweeps still running after 30s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawKeys returns every key of the cluster that matches pattern.
func rawKeys(t *testing.T, s *Store, pattern string) []string {
	t.Helper()
	masters, err := s.masters(t.Context())
	if err != nil {
		t.Fatalf("masters() = %v", err)
	}
	seen := map[string]bool{}
	for _, node := range masters {
		var cursor uint64
		for {
			e, err := node.Do(t.Context(), node.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Fatalf("SCAN %q = %v", pattern, err)
			}
			for _, k := range e.Elements {
				seen[k] = true
			}
			if e.Cursor == 0 {
				break
			}
			cursor = e.Cursor
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// adversarialNames are cache names whose keys a careless layout would mix
// up: names that are prefixes of each other with separators, hash-tag and
// glob characters, the escape byte, NULs and invalid UTF-8.
var adversarialNames = []string{
	"a", "a:b", "a:", ":a", "1:a", "a:1", "a:1:", "a}", "{a}", "}", "{", "a\x01", "a\x01\x02", "a}\x01",
	"*", "a*", "?", "[a]", "\\", "a\\*", "\x00", "\x00\x00", "\xff\xfe", "é", "a b",
}

// TestKeyLayoutSeparatesCaches writes, under one key, a value naming the
// cache into every adversarial cache, then flushes and deletes some: the
// others keep exactly their own values, and no key of theirs is swept.
func TestKeyLayoutSeparatesCaches(t *testing.T) {
	s := openStore(t, Config{SweepBatch: 7})
	ctx := t.Context()
	keysOf := func(name string) [][]byte {
		// Keys that, joined to another cache's name, spell this one's.
		ks := []string{"k", ":b", "b", "}", "1:a", "\x01\x02", "*", "x" + name}
		return keys(ks...)
	}
	for _, name := range adversarialNames {
		mustCreate(t, s, name)
		for _, k := range keysOf(name) {
			mustSet(t, s, name, k, []byte(name+"|"+string(k)))
		}
		if err := s.DictionarySet(ctx, name, []byte("dict"), []store.DictionaryField{{Field: []byte("f"), Value: []byte(name)}}, store.CollectionWrite{TTL: time.Hour}); err != nil {
			t.Fatalf("DictionarySet(%q) = %v", name, err)
		}
		if _, err := s.Publish(ctx, name, "t", store.TopicMessage{Data: []byte(name)}); err != nil {
			t.Fatalf("Publish(%q) = %v", name, err)
		}
	}
	names, err := s.ListCaches(ctx)
	if want := slices.Sorted(slices.Values(adversarialNames)); err != nil || !slices.Equal(names, want) {
		t.Fatalf("ListCaches() = %q, %v; want %q", names, err, want)
	}

	// Flush "a" and delete "a:b": the sweeps of their key spaces must not
	// touch the other caches' keys, whatever bytes the names share.
	if err := s.FlushCache(ctx, "a"); err != nil {
		t.Fatalf("FlushCache(a) = %v", err)
	}
	if err := s.DeleteCache(ctx, "a:b"); err != nil {
		t.Fatalf("DeleteCache(a:b) = %v", err)
	}
	waitSweeps(t, s)
	for _, name := range adversarialNames {
		switch name {
		case "a:b":
			if _, _, err := s.Get(ctx, name, []byte("k")); !errors.Is(err, store.ErrCacheNotFound) {
				t.Errorf("Get(deleted %q) = %v, want ErrCacheNotFound", name, err)
			}
			continue
		case "a":
			for _, k := range keysOf(name) {
				checkGet(t, s, name, k, nil)
			}
			continue
		}
		for _, k := range keysOf(name) {
			checkGet(t, s, name, k, []byte(name+"|"+string(k)))
		}
		vals, found, err := s.DictionaryGet(ctx, name, []byte("dict"), [][]byte{[]byte("f")})
		if err != nil || !found || len(vals) != 1 || string(vals[0].Value) != name {
			t.Errorf("DictionaryGet(%q) = %v, %v, %v; want %q", name, vals, found, err, name)
		}
	}
	// The swept key spaces are empty; every other cache has its 8
	// scalars, a dictionary with its companion and a topic with its.
	for _, name := range adversarialNames {
		ref := s.reg.Load().refs[name]
		if name == "a:b" {
			continue
		}
		keys := rawKeys(t, s, globEscape(ref.prefix)+"*")
		want := 8 + 2 + 2
		if name == "a" {
			want = 0
		}
		if len(keys) != want {
			t.Errorf("cache %q has %d keys under its prefix, want %d: %q", name, len(keys), want, keys)
		}
	}
	if got := rawKeys(t, s, globEscape(s.cfg.Namespace)+":{*"); len(got) != (len(adversarialNames)-2)*12 {
		t.Errorf("the namespace holds %d keys, want %d", len(got), (len(adversarialNames)-2)*12)
	}
}

// TestCachePrefixesArePrefixFree checks the property the sweeps rely on:
// no cache's prefix starts another's, so a SCAN MATCH on one finds none of
// the other's keys.
func TestCachePrefixesArePrefixFree(t *testing.T) {
	var prefixes []string
	for _, name := range adversarialNames {
		for _, epoch := range []uint64{1, 12, 123} {
			prefixes = append(prefixes, cachePrefix("ns", name, epoch))
		}
	}
	for i, p := range prefixes {
		for j, q := range prefixes {
			if i != j && strings.HasPrefix(q, p) {
				t.Errorf("prefix %q starts prefix %q", p, q)
			}
		}
		if strings.Contains(p, "}") || strings.IndexByte(p, '{') != len("ns:") {
			t.Errorf("prefix %q: the hash tag must open right after the namespace and not close", p)
		}
	}
	// An item key is its own hash tag, and its companion shares it.
	ref := cacheRef{prefix: cachePrefix("ns", "c}", 1)}
	data, companion := ref.itemKeys([]byte("k}\x01"))
	if tag := hashTag(data); tag != hashTag(companion) || tag == "" || !strings.HasSuffix(data, "}") {
		t.Errorf("itemKeys = %q, %q: want one hash tag ending the data key", data, companion)
	}
	if p, ok := parseKey("ns", data); !ok || p.companion || p.kind != kindItem || p.epoch != 1 || p.escName != string(escape(nil, "c}")) {
		t.Errorf("parseKey(%q) = %+v, %v", data, p, ok)
	}
	if p, ok := parseKey("ns", companion); !ok || !p.companion {
		t.Errorf("parseKey(%q) = %+v, %v; want a companion", companion, p, ok)
	}
}

// hashTag is the part of key that Redis Cluster hashes.
func hashTag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return key
	}
	return key[open+1 : open+1+end]
}

// TestDeleteThenRecreateNeverShowsOldKeys recreates a cache right after
// deleting it, before its sweep can run, and finds every kind of item and
// its topic gone; a second node on the same namespace agrees.
func TestDeleteThenRecreateNeverShowsOldKeys(t *testing.T) {
	ns := uniqueNamespace(t)
	a := openStore(t, Config{Namespace: ns})
	b := openStore(t, Config{Namespace: ns})
	ctx := t.Context()
	w := store.CollectionWrite{TTL: time.Hour}
	for round := range 3 {
		mustCreate(t, a, "c")
		mustSet(t, a, "c", []byte("scalar"), []byte("v"))
		steps := []error{
			a.DictionarySet(ctx, "c", []byte("dict"), []store.DictionaryField{{Field: []byte("f"), Value: []byte("v")}}, w),
			a.SetUnion(ctx, "c", []byte("set"), [][]byte{[]byte("m")}, w),
			a.SortedSetPut(ctx, "c", []byte("zset"), []store.SortedSetElement{{Value: []byte("m"), Score: 1}}, w),
		}
		_, err := a.ListPush(ctx, "c", []byte("list"), store.ListBack, [][]byte{[]byte("v")}, 0, w)
		steps = append(steps, err)
		pos, err := a.Publish(ctx, "c", "t", store.TopicMessage{Data: []byte("old")})
		steps = append(steps, err)
		for _, err := range steps {
			if err != nil {
				t.Fatalf("round %d: writing = %v", round, err)
			}
		}
		// b may serve the last round's epoch until its next registry poll.
		waitRegistry(t, b, a)
		checkGet(t, b, "c", []byte("scalar"), []byte("v"))
		if err := a.DeleteCache(ctx, "c"); err != nil {
			t.Fatalf("DeleteCache() = %v", err)
		}
		mustCreate(t, a, "c")
		for _, s := range []*Store{a, b} {
			if s == b {
				waitRegistry(t, b, a)
			}
			exist, err := s.KeysExist(ctx, "c", keys("scalar", "dict", "set", "zset", "list"))
			if err != nil || slices.Contains(exist, true) {
				t.Errorf("round %d: KeysExist after delete and create = %v, %v; want all false", round, exist, err)
			}
			sub, err := s.Subscribe(ctx, "c", "t", store.TopicPosition{Sequence: pos.Sequence, Page: pos.Page})
			if err != nil {
				t.Fatalf("Subscribe() = %v", err)
			}
			next, err := s.Publish(ctx, "c", "t", store.TopicMessage{Data: []byte("new")})
			if err != nil || next.Page <= pos.Page {
				t.Errorf("round %d: Publish after recreate = %+v, %v; want a page after %d", round, next, err, pos.Page)
			}
			ev := mustNext(t, sub)
			if ev.Discontinuity == nil || ev.Discontinuity.NewPage != next.Page {
				t.Errorf("round %d: Next after recreate = %+v, want a discontinuity to page %d", round, ev, next.Page)
			}
			sub.Close()
		}
		waitSweeps(t, a)
		if err := a.DeleteCache(ctx, "c"); err != nil {
			t.Fatalf("DeleteCache() = %v", err)
		}
	}
}

// waitRegistry waits until b's registry snapshot is at least as new as a's.
func waitRegistry(t *testing.T, b, a *Store) {
	t.Helper()
	want := a.reg.Load().version
	deadline := time.Now().Add(10 * time.Second)
	for b.reg.Load().version < want {
		if time.Now().After(deadline) {
			t.Fatalf("the second store's registry is at version %d after 10s, want %d", b.reg.Load().version, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func keys(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func mustNext(t *testing.T, sub store.TopicSubscription) store.TopicEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("Next() = %v, want an event", err)
	}
	return ev
}

// TestFlushOfBigCacheIsIncremental flushes a cache of many items and finds
// it empty at once, writable during the sweep, and its old keys removed
// in many SCAN/UNLINK rounds rather than one command.
func TestFlushOfBigCacheIsIncremental(t *testing.T) {
	const items, batch = 6000, 100
	s := openStore(t, Config{SweepBatch: batch})
	ctx := t.Context()
	mustCreate(t, s, "big")
	old := s.reg.Load().refs["big"]
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < items; i += 8 {
				if err := s.Set(ctx, "big", fmt.Appendf(nil, "k%d", i), []byte("v"), time.Hour); err != nil {
					t.Errorf("Set() = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(rawKeys(t, s, globEscape(old.prefix)+"*")); n != items {
		t.Fatalf("the cache has %d keys before the flush, want %d", n, items)
	}
	before := s.sweptBatches.Load()
	if err := s.FlushCache(ctx, "big"); err != nil {
		t.Fatalf("FlushCache() = %v", err)
	}
	// Empty at once, and usable while the old keys go.
	checkGet(t, s, "big", []byte("k1"), nil)
	mustSet(t, s, "big", []byte("k1"), []byte("new"))
	waitSweeps(t, s)
	checkGet(t, s, "big", []byte("k1"), []byte("new"))
	if n := len(rawKeys(t, s, globEscape(old.prefix)+"*")); n != 0 {
		t.Errorf("%d keys of the old epoch left after the sweep, want 0", n)
	}
	// SCAN COUNT is a hint: a round may find more or fewer keys than
	// batch, but the sweep cannot be one command.
	if rounds := s.sweptBatches.Load() - before; rounds < items/batch/2 {
		t.Errorf("the sweep of %d keys took %d UNLINK rounds, want at least %d (batches of about %d)", items, rounds, items/batch/2, batch)
	}
	members, err := s.client.Do(ctx, s.client.B().Smembers().Key(s.keys.sweep).Build()).AsStrSlice()
	if err != nil || len(members) != 0 {
		t.Errorf("sweep set after the sweep = %q, %v; want empty", members, err)
	}
}

// TestSweepResumesOnAnotherNode stops a store before its sweep can run and
// lets a new store of the namespace finish it.
func TestSweepResumesOnAnotherNode(t *testing.T) {
	ns := uniqueNamespace(t)
	a := openStore(t, Config{Namespace: ns})
	ctx := t.Context()
	mustCreate(t, a, "c")
	ref := a.reg.Load().refs["c"]
	for i := range 50 {
		mustSet(t, a, "c", fmt.Appendf(nil, "k%d", i), []byte("v"))
	}
	// The registry change and its sweep entry, without the sweep itself:
	// what a node that stopped right after DeleteCache leaves.
	if _, err := deleteCacheScript.Exec(ctx, a.client, a.registryKeys(), []string{"c"}).ToArray(); err != nil {
		t.Fatalf("delete script = %v", err)
	}
	if n := len(rawKeys(t, a, globEscape(ref.prefix)+"*")); n != 50 {
		t.Fatalf("%d keys before the sweep, want 50", n)
	}
	b := openStore(t, Config{Namespace: ns})
	deadline := time.Now().Add(20 * time.Second)
	for len(rawKeys(t, b, globEscape(ref.prefix)+"*")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the new store did not sweep the deleted cache's keys within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNodesShareTheRegistry runs two stores on one namespace, as two
// `thaw serve` processes: what one creates, writes, flushes or deletes,
// the other sees.
func TestNodesShareTheRegistry(t *testing.T) {
	ns := uniqueNamespace(t)
	a := openStore(t, Config{Namespace: ns})
	b := openStore(t, Config{Namespace: ns})
	ctx := t.Context()
	mustCreate(t, a, "shared")
	// b learns of the cache on its first use, before any poll.
	mustSet(t, b, "shared", []byte("k"), []byte("from b"))
	checkGet(t, a, "shared", []byte("k"), []byte("from b"))
	if names, err := b.ListCaches(ctx); err != nil || !slices.Equal(names, []string{"shared"}) {
		t.Errorf("ListCaches() on the other node = %q, %v; want [shared]", names, err)
	}
	if err := b.CreateCache(ctx, "shared"); !errors.Is(err, store.ErrCacheExists) {
		t.Errorf("CreateCache(shared) on the other node = %v, want ErrCacheExists", err)
	}
	if err := a.FlushCache(ctx, "shared"); err != nil {
		t.Fatalf("FlushCache() = %v", err)
	}
	waitRegistry(t, b, a)
	checkGet(t, b, "shared", []byte("k"), nil)
	sub, err := b.Subscribe(ctx, "shared", "t", store.TopicPosition{})
	if err != nil {
		t.Fatalf("Subscribe() = %v", err)
	}
	defer sub.Close()
	pos, err := a.Publish(ctx, "shared", "t", store.TopicMessage{Data: []byte("across nodes")})
	if err != nil {
		t.Fatalf("Publish() = %v", err)
	}
	if ev := mustNext(t, sub); ev.Item.Position != pos || string(ev.Item.Message.Data) != "across nodes" {
		t.Errorf("Next() on the other node = %+v, want item %+v", ev, pos)
	}
	if err := a.DeleteCache(ctx, "shared"); err != nil {
		t.Fatalf("DeleteCache() = %v", err)
	}
	nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := sub.Next(nctx); !errors.Is(err, store.ErrCacheNotFound) {
		t.Errorf("Next() on the other node after DeleteCache = %v, want ErrCacheNotFound", err)
	}
	waitRegistry(t, b, a)
	if _, _, err := b.Get(ctx, "shared", []byte("k")); !errors.Is(err, store.ErrCacheNotFound) {
		t.Errorf("Get() on the other node after DeleteCache = %v, want ErrCacheNotFound", err)
	}
}

// TestHashConditionsOnIncrementedValues checks the Lua SHA-256 that the hash
// conditions of SetIf compute for a value Increment wrote, against Go's, over
// results of every length and sign.
func TestHashConditionsOnIncrementedValues(t *testing.T) {
	s := openStore(t, Config{})
	ctx := t.Context()
	mustCreate(t, s, "c")
	c := s.reg.Load().refs["c"]
	amounts := []int64{0, 1, -1, 9, -10, 99, 12345, -987654321, math.MaxInt32, math.MinInt32, 1 << 53, math.MaxInt64, math.MinInt64}
	for i := int64(1); i < 1e18; i *= 7 {
		amounts = append(amounts, i, -i)
	}
	for i, amount := range amounts {
		key := fmt.Appendf(nil, "n%d", i)
		got, err := s.Increment(ctx, "c", key, amount, time.Hour)
		if err != nil || got != amount {
			t.Fatalf("Increment(missing, %d) = %d, %v", amount, got, err)
		}
		value := []byte(strconv.FormatInt(amount, 10))
		raw, err := s.client.Do(ctx, s.client.B().Get().Key(c.itemKey(key)).Build()).ToString()
		if want := unhashedMark + string(value); err != nil || raw != want {
			t.Errorf("stored after Increment(%d) = %q, %v; want %q", amount, raw, err, want)
		}
		for _, tc := range []struct {
			kind store.ConditionKind
			hash []byte
			want bool
		}{
			{store.PresentAndNotHashEqual, store.Hash(value), false},
			{store.AbsentOrHashEqual, store.Hash(append(value, '0')), false},
			{store.PresentAndHashEqual, []byte(unhashedMark), false},
			{store.PresentAndHashEqual, store.Hash(value), true},
		} {
			stored, err := s.SetIf(ctx, "c", key, value, time.Hour, store.Condition{Kind: tc.kind, Value: tc.hash})
			if err != nil || stored != tc.want {
				t.Errorf("SetIf(%q written by Increment, %v %q) = %v, %v; want %v", value, tc.kind, tc.hash, stored, err, tc.want)
			}
		}
	}
	// Values in non-canonical forms that strconv.ParseInt accepts.
	for _, tc := range []struct{ value, want string }{{"+5", "6"}, {"007", "8"}, {"-0", "1"}, {"-007", "-6"}, {"000", "1"}} {
		mustSet(t, s, "c", []byte("form"), []byte(tc.value))
		got, err := s.Increment(ctx, "c", []byte("form"), 1, time.Hour)
		if err != nil || strconv.FormatInt(got, 10) != tc.want {
			t.Errorf("Increment(%q, 1) = %d, %v; want %s", tc.value, got, err, tc.want)
		}
	}
}

// TestCollectionSizeIsTracked checks the companion's payload size against
// the elements after writes of every kind, and that it follows the
// collection's expiry and deletion.
func TestCollectionSizeIsTracked(t *testing.T) {
	s := openStore(t, Config{})
	ctx := t.Context()
	mustCreate(t, s, "c")
	c := s.reg.Load().refs["c"]
	w := store.CollectionWrite{TTL: time.Hour}
	size := func(key string) (int64, time.Duration) {
		t.Helper()
		_, companion := c.itemKeys([]byte(key))
		n, err := s.client.Do(ctx, s.client.B().Get().Key(companion).Build()).AsInt64()
		if err != nil {
			return -1, 0
		}
		ttl, _ := s.client.Do(ctx, s.client.B().Pttl().Key(companion).Build()).AsInt64()
		return n, time.Duration(ttl) * time.Millisecond
	}
	check := func(step, key string, want int64) {
		t.Helper()
		got, ttl := size(key)
		if got != want {
			t.Errorf("after %s: size of %q = %d, want %d", step, key, got, want)
		}
		if want >= 0 {
			data, _ := c.itemKeys([]byte(key))
			dttl, _ := s.client.Do(ctx, s.client.B().Pttl().Key(data).Build()).AsInt64()
			if d := time.Duration(dttl)*time.Millisecond - ttl; d < -time.Second || d > time.Second {
				t.Errorf("after %s: %q expires in %v, its size in %v", step, key, time.Duration(dttl)*time.Millisecond, ttl)
			}
		}
	}
	run := func(step string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s = %v", step, err)
		}
	}
	run("DictionarySet", s.DictionarySet(ctx, "c", []byte("d"), []store.DictionaryField{{Field: []byte("ab"), Value: []byte("xyz")}, {Field: []byte("ab"), Value: []byte("1")}, {Field: []byte("c"), Value: nil}}, w))
	check("DictionarySet", "d", 1+2+1+1)
	_, err := s.DictionaryIncrement(ctx, "c", []byte("d"), []byte("ab"), 99, w)
	run("DictionaryIncrement", err)
	check("DictionaryIncrement", "d", 1+2+3+1)
	run("DictionaryRemove", s.DictionaryRemove(ctx, "c", []byte("d"), keys("ab", "ab", "zz")))
	check("DictionaryRemove", "d", 1+1)
	run("DictionaryRemove", s.DictionaryRemove(ctx, "c", []byte("d"), keys("c")))
	check("DictionaryRemove of the last field", "d", -1)

	run("SetUnion", s.SetUnion(ctx, "c", []byte("s"), keys("a", "bb", "a"), w))
	run("SetUnion", s.SetUnion(ctx, "c", []byte("s"), keys("bb", "ccc"), w))
	check("SetUnion", "s", 1+1+2+3)
	_, err = s.SetRemove(ctx, "c", []byte("s"), keys("a", "zz"))
	run("SetRemove", err)
	check("SetRemove", "s", 1+2+3)
	_, err = s.SetSubtractFrom(ctx, "c", []byte("s"), keys("bb", "dddd", "e"), 0)
	run("SetSubtractFrom", err)
	check("SetSubtractFrom", "s", 1+4+1)
	_, _, err = s.SetPop(ctx, "c", []byte("s"), 1)
	run("SetPop", err)
	if got, _ := size("s"); got != 1+4 && got != 1+1 {
		t.Errorf("after SetPop: size = %d, want 5 or 2", got)
	}

	_, err = s.ListPush(ctx, "c", []byte("l"), store.ListBack, keys("a", "bb", "ccc"), 0, w)
	run("ListPush", err)
	_, err = s.ListPush(ctx, "c", []byte("l"), store.ListFront, keys("dddd", "e"), 4, w)
	run("ListPush", err)
	check("ListPush with truncation", "l", 1+4+1+1+2) // dddd e a bb
	_, _, err = s.ListRetain(ctx, "c", []byte("l"), store.ListRange{Start: 1, End: 3, EndBounded: true}, w)
	run("ListRetain", err)
	check("ListRetain", "l", 1+1+1) // e a
	_, _, err = s.ListErase(ctx, "c", []byte("l"), []store.ListSpan{{Begin: 0, Count: 1}})
	run("ListErase", err)
	check("ListErase", "l", 1+1)
	_, _, _, err = s.ListPop(ctx, "c", []byte("l"), store.ListBack)
	run("ListPop", err)
	check("ListPop of the last element", "l", -1)

	run("SortedSetPut", s.SortedSetPut(ctx, "c", []byte("z"), []store.SortedSetElement{{Value: []byte("ab"), Score: 1}, {Value: []byte("c"), Score: math.Inf(-1)}}, w))
	_, err = s.SortedSetIncrement(ctx, "c", []byte("z"), []byte("dd"), 2, w)
	run("SortedSetIncrement", err)
	check("SortedSetPut and Increment", "z", 1+(2+8)+(1+8)+(2+8))
	run("SortedSetRemove", s.SortedSetRemove(ctx, "c", []byte("z"), keys("ab", "zz")))
	check("SortedSetRemove", "z", 1+(1+8)+(2+8))
	_, err = s.SortedSetUnionStore(ctx, "c", []byte("u"), []store.SortedSetSource{{Key: []byte("z"), Weight: 2}, {Key: []byte("z"), Weight: 1}}, store.AggregateSum, w)
	run("SortedSetUnionStore", err)
	check("SortedSetUnionStore", "u", 1+(1+8)+(2+8))
	if err := s.Delete(ctx, "c", []byte("u")); err != nil {
		t.Fatal(err)
	}
	check("Delete", "u", -1)
}

// TestNewFailsFast checks the start-up errors: nothing listening, and a
// Redis that is not a cluster.
func TestNewFailsFast(t *testing.T) {
	free := freePort(t)
	start := time.Now()
	_, err := New(t.Context(), Config{Addrs: []string{free}, DialTimeout: 2 * time.Second})
	if err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("New(%s, nothing listening) = %v after %v, want an error within seconds", free, err, time.Since(start))
	}

	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed: skipping the non-cluster case")
	}
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start listening within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = New(t.Context(), Config{Addrs: []string{addr}})
	if err == nil || !strings.Contains(err.Error(), "not a Redis Cluster") {
		t.Errorf("New(%s, a standalone Redis) = %v, want an error saying it is not a Redis Cluster", addr, err)
	}
}

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestPing(t *testing.T) {
	s := openStore(t, Config{})
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
	s.Close()
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Ping() after Close = %v, want ErrClosed", err)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		addrs   []string
		user    string
		tls     bool
		wantErr string
	}{
		{in: "redis://127.0.0.1:7000", addrs: []string{"127.0.0.1:7000"}},
		{in: "redis://a:1,b:2,[::1]:3/", addrs: []string{"a:1", "b:2", "[::1]:3"}},
		{in: "rediss://cache.example:6380", addrs: []string{"cache.example:6380"}, tls: true},
		{in: "redis://thaw@h:1", addrs: []string{"h:1"}, user: "thaw"},
		{in: "redis://u:secret@h:1", wantErr: "password"},
		{in: "http://h:1", wantErr: "scheme"},
		{in: "h:1", wantErr: "redis://"},
		{in: "redis://h", wantErr: "not host:port"},
		{in: "redis://h:1,", wantErr: "not host:port"},
		{in: "redis://h:1/0", wantErr: "only hosts"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			cfg, err := ParseURL(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("ParseURL(%q) = %v, want an error about %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(cfg.Addrs, tc.addrs) || cfg.Username != tc.user || (cfg.TLS != nil) != tc.tls {
				t.Errorf("ParseURL(%q) = %+v, %v; want addrs %q, user %q, TLS %v", tc.in, cfg, err, tc.addrs, tc.user, tc.tls)
			}
		})
	}
}

// BenchmarkScalars measures the scalar operations one at a time on the test
// cluster, to compare the single commands (Get, Set) with the scripts
// (SetIf, Increment with its SHA-256 in Lua).
func BenchmarkScalars(b *testing.B) {
	v := os.Getenv(clusterEnv)
	if v == "" {
		b.Skipf("%s is not set", clusterEnv)
	}
	s, err := New(b.Context(), Config{Addrs: strings.Split(v, ","), Namespace: "thawbench-" + strconv.FormatInt(time.Now().UnixNano(), 36)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := b.Context()
	if err := s.CreateCache(ctx, "c"); err != nil {
		b.Fatal(err)
	}
	defer s.DeleteCache(ctx, "c")
	value := bytes.Repeat([]byte("v"), 100)
	key := []byte("key")
	if err := s.Set(ctx, "c", key, value, time.Hour); err != nil {
		b.Fatal(err)
	}
	ops := []struct {
		name string
		op   func() error
	}{
		{"Get", func() error { _, _, err := s.Get(ctx, "c", key); return err }},
		{"Set", func() error { return s.Set(ctx, "c", key, value, time.Hour) }},
		{"SetIfHash", func() error {
			_, err := s.SetIf(ctx, "c", key, value, time.Hour, store.Condition{Kind: store.PresentAndHashEqual, Value: store.Hash(value)})
			return err
		}},
		{"Increment", func() error { _, err := s.Increment(ctx, "c", []byte("n"), 1, time.Hour); return err }},
	}
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) {
			for b.Loop() {
				if err := o.op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
