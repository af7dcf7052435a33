package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/thaw-dev/thaw/api/cachepb"
)

// Op names of the workload mix.
const (
	OpGet           = "get"
	OpSet           = "set"
	OpDelete        = "delete"
	OpDictionaryGet = "dictionary-get"
	OpDictionarySet = "dictionary-set"
)

// Key layouts: scalar items and dictionaries live apart, so that a mix of
// both never meets a key of the wrong type. Every dictionary has one field.
const (
	scalarKeyPrefix     = "bench:"
	dictionaryKeyPrefix = "bench-dict:"
	dictionaryField     = "f"
)

// outcome is what a successful request found.
type outcome uint8

const (
	outcomeOK   outcome = iota // a write or delete
	outcomeHit                 // a read that found its item
	outcomeMiss                // a read that did not
)

// op is one kind of request of the mix.
type op struct {
	name string
	// dictionary says the op works on dictionaries (for preloading).
	dictionary bool
	// send makes one request for key on scs.
	send func(ctx context.Context, scs cachepb.ScsClient, key []byte, w *writeArgs) (outcome, error)
}

// writeArgs are what every write sends besides its key.
type writeArgs struct {
	value []byte
	ttlMs uint64
	field [][]byte // {dictionaryField}
}

// ops are the ops a mix may name, in the order OpNames lists them.
var ops = []op{
	{name: OpGet, send: sendGet},
	{name: OpSet, send: sendSet},
	{name: OpDelete, send: sendDelete},
	{name: OpDictionaryGet, dictionary: true, send: sendDictionaryGet},
	{name: OpDictionarySet, dictionary: true, send: sendDictionarySet},
}

// opByName indexes ops.
var opByName = func() map[string]op {
	m := map[string]op{}
	for _, o := range ops {
		m[o.name] = o
	}
	return m
}()

// OpNames returns the names a mix may use.
func OpNames() []string {
	names := make([]string, len(ops))
	for i, o := range ops {
		names[i] = o.name
	}
	return names
}

func sendGet(ctx context.Context, scs cachepb.ScsClient, key []byte, _ *writeArgs) (outcome, error) {
	resp, err := scs.Get(ctx, &cachepb.XGetRequest{CacheKey: key})
	if err != nil {
		return 0, err
	}
	switch resp.GetResult() {
	case cachepb.ECacheResult_Hit:
		return outcomeHit, nil
	case cachepb.ECacheResult_Miss:
		return outcomeMiss, nil
	}
	return 0, fmt.Errorf("get: unexpected result %v: %s", resp.GetResult(), resp.GetMessage())
}

func sendSet(ctx context.Context, scs cachepb.ScsClient, key []byte, w *writeArgs) (outcome, error) {
	resp, err := scs.Set(ctx, &cachepb.XSetRequest{CacheKey: key, CacheBody: w.value, TtlMilliseconds: w.ttlMs})
	if err != nil {
		return 0, err
	}
	if r := resp.GetResult(); r != cachepb.ECacheResult_Ok {
		return 0, fmt.Errorf("set: unexpected result %v: %s", r, resp.GetMessage())
	}
	return outcomeOK, nil
}

func sendDelete(ctx context.Context, scs cachepb.ScsClient, key []byte, _ *writeArgs) (outcome, error) {
	_, err := scs.Delete(ctx, &cachepb.XDeleteRequest{CacheKey: key})
	return outcomeOK, err
}

func sendDictionaryGet(ctx context.Context, scs cachepb.ScsClient, key []byte, w *writeArgs) (outcome, error) {
	resp, err := scs.DictionaryGet(ctx, &cachepb.XDictionaryGetRequest{DictionaryName: key, Fields: w.field})
	if err != nil {
		return 0, err
	}
	if resp.GetMissing() != nil {
		return outcomeMiss, nil
	}
	items := resp.GetFound().GetItems()
	if len(items) != 1 {
		return 0, fmt.Errorf("dictionary-get: %d items for 1 field", len(items))
	}
	if items[0].GetResult() == cachepb.ECacheResult_Hit {
		return outcomeHit, nil
	}
	return outcomeMiss, nil
}

func sendDictionarySet(ctx context.Context, scs cachepb.ScsClient, key []byte, w *writeArgs) (outcome, error) {
	_, err := scs.DictionarySet(ctx, &cachepb.XDictionarySetRequest{
		DictionaryName:  key,
		Items:           []*cachepb.XDictionaryFieldValuePair{{Field: w.field[0], Value: w.value}},
		TtlMilliseconds: w.ttlMs,
		RefreshTtl:      true,
	})
	return outcomeOK, err
}

// appendKey appends the key of item n for o to buf.
func appendKey(buf []byte, o op, n int) []byte {
	if o.dictionary {
		buf = append(buf, dictionaryKeyPrefix...)
	} else {
		buf = append(buf, scalarKeyPrefix...)
	}
	return strconv.AppendInt(buf, int64(n), 10)
}

// mix draws ops by weight.
type mix struct {
	ops     []op
	cumul   []int // cumulative weights, parallel to ops
	total   int
	indexOf map[string]int
}

func newMix(weights []OpWeight) *mix {
	m := &mix{indexOf: map[string]int{}}
	for _, w := range weights {
		m.total += w.Weight
		m.ops = append(m.ops, opByName[w.Op])
		m.cumul = append(m.cumul, m.total)
		m.indexOf[w.Op] = len(m.ops) - 1
	}
	return m
}

// pick returns the index in m.ops of a random op.
func (m *mix) pick(r *rand.Rand) int {
	if len(m.ops) == 1 {
		return 0
	}
	n := r.IntN(m.total)
	i, _ := slices.BinarySearch(m.cumul, n+1)
	return i
}

// hasScalar and hasDictionary say which kinds of item the mix touches.
func (m *mix) hasScalar() bool {
	return slices.ContainsFunc(m.ops, func(o op) bool { return !o.dictionary })
}

func (m *mix) hasDictionary() bool {
	return slices.ContainsFunc(m.ops, func(o op) bool { return o.dictionary })
}

// keyChooser draws item numbers from [0, n).
type keyChooser interface {
	next(r *rand.Rand) int
}

// uniformKeys draws every item equally often.
type uniformKeys struct{ n int }

func (u uniformKeys) next(r *rand.Rand) int { return r.IntN(u.n) }

// zipfTheta is YCSB's default skew.
const zipfTheta = 0.99

// zipfKeys draws item i with probability proportional to 1/(i+1)^theta, by
// the method of Gray et al., "Quickly Generating Billion-Record Synthetic
// Databases" (SIGMOD 1994), which YCSB uses: O(n) set-up, O(1) per draw,
// and unlike math/rand's Zipf it accepts theta below 1. It is read-only
// after newZipfKeys and safe for concurrent use with separate rand sources.
type zipfKeys struct {
	n                   int
	theta, alpha, zetan float64
	eta, half           float64
}

func newZipfKeys(n int, theta float64) *zipfKeys {
	zeta := func(n int) float64 {
		sum := 0.0
		for i := 1; i <= n; i++ {
			sum += 1 / math.Pow(float64(i), theta)
		}
		return sum
	}
	z := &zipfKeys{n: n, theta: theta, alpha: 1 / (1 - theta), zetan: zeta(n)}
	zeta2 := zeta(2)
	z.eta = (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta2/z.zetan)
	z.half = 1 + math.Pow(0.5, theta)
	return z
}

func (z *zipfKeys) next(r *rand.Rand) int {
	u := r.Float64()
	uz := u * z.zetan
	switch {
	case uz < 1:
		return 0
	case uz < z.half && z.n > 1:
		return 1
	}
	i := int(float64(z.n) * math.Pow(z.eta*u-z.eta+1, z.alpha))
	return min(max(i, 0), z.n-1)
}

// newKeyChooser returns the chooser for d over n items.
func newKeyChooser(d Distribution, n int) keyChooser {
	if d == Zipfian {
		return newZipfKeys(n, zipfTheta)
	}
	return uniformKeys{n: n}
}
