package memory

import "time"

// Defaults and bounds of the Config fields.
const (
	// DefaultShards is the number of shards per cache when Config.Shards is zero.
	DefaultShards = 64
	// MaxShards is the largest number of shards per cache accepted.
	MaxShards = 4096
	// DefaultJanitorInterval is how often the janitor sweeps when
	// Config.JanitorInterval is zero.
	DefaultJanitorInterval = 100 * time.Millisecond
	// MinJanitorInterval is the shortest janitor interval accepted.
	MinJanitorInterval = time.Millisecond

	// DefaultTopicRetention is how many items a topic keeps when
	// Config.TopicRetention is zero: ten seconds of the service's default
	// publish rate (100 per second), enough for a subscriber that
	// reconnects after the SDKs' 500 ms resubscribe delay, or after a
	// short freeze, to miss nothing.
	DefaultTopicRetention = 1024
	// MaxTopicRetention is the largest Config.TopicRetention accepted.
	MaxTopicRetention = 1 << 20
	// DefaultTopicRetentionBytes bounds the bytes a topic keeps when
	// Config.TopicRetentionBytes is zero.
	DefaultTopicRetentionBytes = 1 << 20
	// DefaultTopicIdleTTL is how long a topic without subscribers lives
	// after its last use when Config.TopicIdleTTL is zero.
	DefaultTopicIdleTTL = 10 * time.Minute
)

// Config configures a Store. The zero value is valid: every zero field takes
// its default.
type Config struct {
	// MaxMemory bounds Stats().Bytes, the bytes accounted to the keys and
	// values of all caches plus ItemOverhead per scalar and
	// CollectionOverhead and the elements' footprint per collection. A
	// write that leaves the store above it evicts items until the store
	// fits again: scalars oldest written first, sparing once those read
	// since, and collections least recently used first; an item that
	// alone exceeds MaxMemory is refused with store.ErrItemTooLarge.
	// Default 0: unlimited (so is any negative value).
	MaxMemory int64
	// MaxCaches bounds the number of caches: CreateCache beyond it fails
	// with store.ErrCacheLimit. Default 0: unlimited (so is any negative
	// value). `thaw serve` sets it from --max-caches.
	MaxCaches int
	// Shards is the number of independently locked parts of every cache.
	// Requests on keys in different shards never wait for each other. A
	// shard is allocated when a request first reaches it; until then it
	// costs a slot of 8 bytes, so more shards cost little memory per empty
	// cache, and a slightly longer FlushCache. Default DefaultShards (64);
	// rounded up to a power of two; at most MaxShards (4096).
	Shards int
	// JanitorInterval is how often the background janitor removes expired
	// items that nobody reads. Reads never return an expired item whatever
	// its value; it bounds how long expired items hold memory. Default
	// DefaultJanitorInterval (100 ms); minimum MinJanitorInterval (1 ms).
	JanitorInterval time.Duration

	// TopicRetention is how many of its most recent items each topic keeps,
	// so that a subscriber that resumes, or reads more slowly than the topic
	// is published to, gets what it missed; beyond it the subscriber gets a
	// discontinuity. Subscribers read the retained items in place: a topic's
	// memory is its retained items and a slot per retained item (8 bytes,
	// allocated as the topic grows), whatever its number of subscribers.
	// Default DefaultTopicRetention (1024); at most MaxTopicRetention.
	TopicRetention int
	// TopicRetentionBytes bounds the bytes of the items a topic keeps: their
	// payloads plus TopicItemOverhead each. The newest item is kept whatever
	// its size, so that live subscribers get it. Default
	// DefaultTopicRetentionBytes (1 MiB). With TopicRetention it bounds a
	// topic's memory; the publish size limit (100 KiB by default) bounds
	// each item.
	TopicRetentionBytes int64
	// TopicIdleTTL is how long a topic with no subscribers keeps its items
	// and its sequence page after it was last published to or subscribed
	// to; then it is dropped, and its next use starts a new page. It bounds
	// the memory of topics nobody uses any more. Default
	// DefaultTopicIdleTTL (10 minutes); checked by the janitor.
	TopicIdleTTL time.Duration
}

// withDefaults returns c with every zero field set to its default and every
// field brought within its bounds.
func (c Config) withDefaults() Config {
	if c.MaxMemory < 0 {
		c.MaxMemory = 0
	}
	if c.MaxCaches < 0 {
		c.MaxCaches = 0
	}
	switch {
	case c.Shards <= 0:
		c.Shards = DefaultShards
	case c.Shards > MaxShards:
		c.Shards = MaxShards
	}
	shards := 1
	for shards < c.Shards {
		shards <<= 1
	}
	c.Shards = shards
	switch {
	case c.JanitorInterval == 0:
		c.JanitorInterval = DefaultJanitorInterval
	case c.JanitorInterval < MinJanitorInterval:
		c.JanitorInterval = MinJanitorInterval
	}
	switch {
	case c.TopicRetention <= 0:
		c.TopicRetention = DefaultTopicRetention
	case c.TopicRetention > MaxTopicRetention:
		c.TopicRetention = MaxTopicRetention
	}
	if c.TopicRetentionBytes <= 0 {
		c.TopicRetentionBytes = DefaultTopicRetentionBytes
	}
	if c.TopicIdleTTL <= 0 {
		c.TopicIdleTTL = DefaultTopicIdleTTL
	}
	return c
}
