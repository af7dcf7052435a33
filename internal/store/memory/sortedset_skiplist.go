package memory

import (
	"math/bits"
	"math/rand/v2"

	"github.com/thaw-dev/thaw/internal/store"
)

// skipMaxLevel bounds the height of a skip-list node: with one node in four
// climbing each level, 32 levels serve far more elements than fit in memory.
const skipMaxLevel = 32

// skipList is the order of a sorted set: an indexable skip list, as in
// Redis's zskiplist, ordered by score and then by value bytewise. Each link
// records how many elements it skips, so that the rank of an element and the
// element at a rank take O(log n) expected steps, like insert and delete.
type skipList struct {
	// head is a sentinel without an element; its levels grow as the list's
	// level does and are never shrunk.
	head *znode
	// tail is the last element, or nil when the list is empty.
	tail *znode
	// level is the number of levels in use, at least 1.
	level int
	// length is the number of elements.
	length int
}

// znode is one element of a skip list.
type znode struct {
	// value is the element's value; the sorted set's map shares its bytes.
	value string
	score float64
	// prev is the previous element at level 0, or nil for the first.
	prev *znode
	// levels are the node's forward links, lowest level first.
	levels []zlevel
}

// zlevel is one forward link of a node.
type zlevel struct {
	// next is the following node at this level, or nil.
	next *znode
	// span is the number of level-0 steps from the node to next; when next
	// is nil, to the last element (kept as Redis does, and never read).
	span int
}

// newSkipList returns an empty list.
func newSkipList() skipList {
	return skipList{head: &znode{levels: make([]zlevel, 1)}, level: 1}
}

// skipRandomLevel picks the height of a new node: level k+1 with probability
// 4^-k, from two random bits per level.
func skipRandomLevel() int {
	return min(1+bits.TrailingZeros64(rand.Uint64())/2, skipMaxLevel)
}

// before reports whether x sorts before the element (score, value).
func (x *znode) before(score float64, value string) bool {
	return x.score < score || (x.score == score && x.value < value)
}

// next returns the following element, or nil.
func (x *znode) next() *znode { return x.levels[0].next }

// element copies x out as a store element.
func (x *znode) element() store.SortedSetElement {
	return store.SortedSetElement{Value: []byte(x.value), Score: x.score}
}

// first returns the lowest element, or nil.
func (l *skipList) first() *znode { return l.head.levels[0].next }

// insert adds (score, value), which the list must not hold, and returns its
// node.
func (l *skipList) insert(score float64, value string) *znode {
	var update [skipMaxLevel]*znode
	var rank [skipMaxLevel]int
	x := l.head
	for i := l.level - 1; i >= 0; i-- {
		if i < l.level-1 {
			rank[i] = rank[i+1]
		}
		for next := x.levels[i].next; next != nil && next.before(score, value); next = x.levels[i].next {
			rank[i] += x.levels[i].span
			x = next
		}
		update[i] = x
	}
	lvl := skipRandomLevel()
	if lvl > l.level {
		for len(l.head.levels) < lvl {
			l.head.levels = append(l.head.levels, zlevel{})
		}
		for i := l.level; i < lvl; i++ {
			rank[i] = 0
			update[i] = l.head
			l.head.levels[i] = zlevel{span: l.length}
		}
		l.level = lvl
	}
	x = &znode{value: value, score: score, levels: make([]zlevel, lvl)}
	for i := range lvl {
		x.levels[i].next = update[i].levels[i].next
		update[i].levels[i].next = x
		x.levels[i].span = update[i].levels[i].span - (rank[0] - rank[i])
		update[i].levels[i].span = rank[0] - rank[i] + 1
	}
	for i := lvl; i < l.level; i++ {
		update[i].levels[i].span++
	}
	if update[0] != l.head {
		x.prev = update[0]
	}
	if next := x.next(); next != nil {
		next.prev = x
	} else {
		l.tail = x
	}
	l.length++
	return x
}

// remove unlinks node x, which the list holds.
func (l *skipList) remove(x *znode) {
	var update [skipMaxLevel]*znode
	y := l.head
	for i := l.level - 1; i >= 0; i-- {
		for next := y.levels[i].next; next != nil && next.before(x.score, x.value); next = y.levels[i].next {
			y = next
		}
		update[i] = y
	}
	for i := range l.level {
		if update[i].levels[i].next == x {
			update[i].levels[i].span += x.levels[i].span - 1
			update[i].levels[i].next = x.levels[i].next
		} else {
			update[i].levels[i].span--
		}
	}
	if next := x.next(); next != nil {
		next.prev = x.prev
	} else {
		l.tail = x.prev
	}
	for l.level > 1 && l.head.levels[l.level-1].next == nil {
		l.level--
	}
	l.length--
}

// rank returns the 0-based ascending rank of node x, which the list holds.
func (l *skipList) rank(x *znode) int {
	traversed := 0
	y := l.head
	for i := l.level - 1; i >= 0; i-- {
		for next := y.levels[i].next; next != nil && (next == x || next.before(x.score, x.value)); next = y.levels[i].next {
			traversed += y.levels[i].span
			y = next
		}
		if y == x {
			break
		}
	}
	return traversed - 1
}

// at returns the element of 0-based ascending rank r, which must be in
// [0, length).
func (l *skipList) at(r int) *znode {
	want := r + 1 // spans count the head as rank 0
	traversed := 0
	x := l.head
	for i := l.level - 1; i >= 0; i-- {
		for x.levels[i].next != nil && traversed+x.levels[i].span <= want {
			traversed += x.levels[i].span
			x = x.levels[i].next
		}
		if traversed == want {
			return x
		}
	}
	return nil
}

// firstIn returns the lowest element whose score lies in r and its 0-based
// rank, or nil.
func (l *skipList) firstIn(r store.ScoreRange) (*znode, int) {
	traversed := 0
	x := l.head
	for i := l.level - 1; i >= 0; i-- {
		for next := x.levels[i].next; next != nil && !r.AboveMin(next.score); next = x.levels[i].next {
			traversed += x.levels[i].span
			x = next
		}
	}
	x = x.next()
	if x == nil || !r.BelowMax(x.score) {
		return nil, 0
	}
	return x, traversed
}

// lastIn returns the highest element whose score lies in r and its 0-based
// rank, or nil.
func (l *skipList) lastIn(r store.ScoreRange) (*znode, int) {
	traversed := 0
	x := l.head
	for i := l.level - 1; i >= 0; i-- {
		for next := x.levels[i].next; next != nil && r.BelowMax(next.score); next = x.levels[i].next {
			traversed += x.levels[i].span
			x = next
		}
	}
	if x == l.head || !r.AboveMin(x.score) {
		return nil, 0
	}
	return x, traversed - 1
}
