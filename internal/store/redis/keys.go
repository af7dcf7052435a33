package redis

import (
	"strconv"
	"strings"
)

// The key layout.
//
// Every key of a cache starts with the cache's prefix,
//
//	<ns>:{<n>:<name>:<epoch>:
//
// where ns is Config.Namespace, name is the cache name escaped (see escape),
// n the length of the escaped name in decimal and epoch the cache's current
// epoch from the registry. The length makes the prefix self-delimiting: no
// prefix of one (name, epoch) is a prefix of another's, so a SCAN MATCH on
// it finds that cache's keys only, whatever bytes the names hold ("a:b"
// against "a" with a key ":b…" included). A new epoch, given on
// CreateCache and FlushCache, is a new key space.
//
// An item key (scalar or collection) is the prefix, 'k', the escaped key
// and '}':
//
//	<ns>:{<n>:<name>:<epoch>:k<key>}      the value: STRING, HASH, SET, LIST or ZSET
//	<ns>:{<n>:<name>:<epoch>:k<key>}m     a collection's payload size (STRING)
//	<ns>:{<n>:<name>:<epoch>:t<topic>}    a topic's items (STREAM)
//	<ns>:{<n>:<name>:<epoch>:t<topic>}m   a topic's page and head (HASH)
//
// The braces make everything between them the hash tag: each item (with its
// companion) and each topic is its own hash slot, so that a cache's items
// spread over every master while one script still touches one slot. The
// escaping keeps '}' out of names and keys, so the first '}' is the one
// that closes the tag.
//
// Leaderboards live in a key space of their own, under "<ns>:lb:{" rather
// than "<ns>:{", so that no item or topic key, no SCAN MATCH of a cache
// prefix (sweeps, Stats) and no leaderboard key can meet, whatever the
// names. Their key space is numbered by the cache's generation, not its
// epoch: the epoch the cache got when it was created, which FlushCache
// keeps (leaderboards survive a flush) and DeleteCache ends (a re-created
// cache gets a new one). All the leaderboards of one cache generation
// share the hash tag, one slot, so that DeleteCache removes them with one
// script that no late write can outrun (see leaderboard.go):
//
//	<ns>:lb:{<n>:<name>:<gen>}b<board>   a leaderboard (ZSET); <board> unescaped, after the tag
//	<ns>:lb:{<n>:<name>:<gen>}i          SET of the names of the leaderboards that exist
//	<ns>:lb:{<n>:<name>:<gen>}x          tombstone (STRING with a TTL): the generation is deleted
//
// The registry keys share the hash tag {<ns>}, one slot:
//
//	{<ns>}:caches        HASH name → epoch
//	{<ns>}:leaderboards  HASH name → generation (absent for a cache made before leaderboards: 0)
//	{<ns>}:epoch         STRING, the last epoch given out; also the registry's version
//	{<ns>}:sweep         SET of "<epoch>:<name>" (old key spaces still being removed)
//	                     and "lb:<gen>:<name>" (leaderboards of a deleted cache)
const (
	// kindItem marks the key of a scalar or collection.
	kindItem = 'k'
	// kindTopic marks the key of a topic.
	kindTopic = 't'
	// companionSuffix ends the companion key of an item or topic.
	companionSuffix = "m"
)

// escape appends s to dst with '}' and the escape byte 0x01 replaced by
// two-byte sequences (0x01 0x02 and 0x01 0x01), an injective encoding that
// leaves no '}'.
func escape(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0x01:
			dst = append(dst, 0x01, 0x01)
		case '}':
			dst = append(dst, 0x01, 0x02)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// cachePrefix is the prefix of every key of the cache named name in epoch.
func cachePrefix(ns, name string, epoch uint64) string {
	return nameTag(ns, ":{", name, epoch, ':')
}

// leaderboardTag is the common start of every leaderboard key of the cache
// named name in generation gen: the "<ns>:lb:{<n>:<name>:<gen>}" of the
// layout.
func leaderboardTag(ns, name string, gen uint64) string {
	return nameTag(ns, ":lb:{", name, gen, '}')
}

// nameTag returns "<ns><open><n>:<name>:<num><end>", name escaped and n its
// escaped length: the start the cache prefix and the leaderboard tag share.
func nameTag(ns, open, name string, num uint64, end byte) string {
	esc := escape(nil, name)
	b := make([]byte, 0, len(ns)+len(esc)+32)
	b = append(b, ns...)
	b = append(b, open...)
	b = strconv.AppendInt(b, int64(len(esc)), 10)
	b = append(b, ':')
	b = append(b, esc...)
	b = append(b, ':')
	b = strconv.AppendUint(b, num, 10)
	b = append(b, end)
	return string(b)
}

// Suffixes of the leaderboard keys after their tag.
const (
	// leaderboardBoard starts the key of one leaderboard; its name follows.
	leaderboardBoard = "b"
	// leaderboardIndex ends the key of the set of leaderboard names.
	leaderboardIndex = "i"
	// leaderboardTombstone ends the key that marks a deleted generation.
	leaderboardTombstone = "x"
)

// cacheRef is one cache in one epoch: what every operation needs to name
// its keys.
type cacheRef struct {
	name   string
	epoch  uint64
	prefix string
	// gen is the cache's leaderboard generation and boards its
	// leaderboardTag.
	gen    uint64
	boards string
}

// newCacheRef names the keys of the cache named name in epoch, with
// leaderboard generation gen, in namespace ns.
func newCacheRef(ns, name string, epoch, gen uint64) cacheRef {
	return cacheRef{name: name, epoch: epoch, prefix: cachePrefix(ns, name, epoch), gen: gen, boards: leaderboardTag(ns, name, gen)}
}

// leaderboardKeys returns the key of the leaderboard named board, of the
// set of leaderboard names and of the tombstone.
func (c cacheRef) leaderboardKeys(board string) (data, index, tombstone string) {
	return c.boards + leaderboardBoard + board, c.boards + leaderboardIndex, c.boards + leaderboardTombstone
}

// itemKeys returns the key of the item key and of its companion.
func (c cacheRef) itemKeys(key []byte) (data, companion string) {
	return c.keys(kindItem, string(key))
}

// itemKey returns the key of the item key.
func (c cacheRef) itemKey(key []byte) string {
	data, _ := c.keys(kindItem, string(key))
	return data
}

// topicKeys returns the stream key of topic and the key of its page and head.
func (c cacheRef) topicKeys(topic string) (stream, meta string) {
	return c.keys(kindTopic, topic)
}

// keys builds the two keys of an item or topic with one allocation for both.
func (c cacheRef) keys(kind byte, s string) (data, companion string) {
	b := make([]byte, 0, len(c.prefix)+len(s)+8)
	b = append(b, c.prefix...)
	b = append(b, kind)
	b = escape(b, s)
	b = append(b, '}')
	b = append(b, companionSuffix...)
	both := string(b)
	return both[:len(both)-len(companionSuffix)], both
}

// globEscape escapes the characters that SCAN MATCH patterns treat
// specially, so that s matches only itself.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// registryKeys are the keys of a namespace's cache registry.
type registryKeys struct {
	caches, epoch, sweep, leaderboards string
}

func newRegistryKeys(ns string) registryKeys {
	tag := "{" + ns + "}:"
	return registryKeys{caches: tag + "caches", epoch: tag + "epoch", sweep: tag + "sweep", leaderboards: tag + "leaderboards"}
}

// parsedKey is what parseKey finds in a key of the namespace.
type parsedKey struct {
	escName string // the escaped cache name
	epoch   uint64
	kind    byte
	// companion says whether the key is a companion key.
	companion bool
}

// parseKey parses a key that SCAN found under "<ns>:{"; ok is false for a
// key of another layout.
func parseKey(ns, key string) (p parsedKey, ok bool) {
	rest, ok := strings.CutPrefix(key, ns+":{")
	if !ok {
		return p, false
	}
	colon := strings.IndexByte(rest, ':')
	if colon <= 0 {
		return p, false
	}
	n, err := strconv.Atoi(rest[:colon])
	if err != nil || n < 0 || colon+1+n >= len(rest) || rest[colon+1+n] != ':' {
		return p, false
	}
	p.escName = rest[colon+1 : colon+1+n]
	rest = rest[colon+2+n:]
	colon = strings.IndexByte(rest, ':')
	if colon <= 0 || colon+1 >= len(rest) {
		return p, false
	}
	if p.epoch, err = strconv.ParseUint(rest[:colon], 10, 64); err != nil {
		return p, false
	}
	rest = rest[colon+1:]
	p.kind = rest[0]
	switch {
	case strings.HasSuffix(rest, "}"):
	case strings.HasSuffix(rest, "}"+companionSuffix):
		p.companion = true
	default:
		return p, false
	}
	return p, true
}
