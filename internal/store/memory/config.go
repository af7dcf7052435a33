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
)

// Config configures a Store. The zero value is valid: every zero field takes
// its default.
type Config struct {
	// MaxMemory bounds Stats().Bytes, the bytes accounted to the keys and
	// values of all caches plus ItemOverhead per item. A write that leaves the
	// store above it evicts items, approximately least recently used first,
	// until the store fits again; an item that alone exceeds MaxMemory is
	// refused with store.ErrItemTooLarge. Default 0: unlimited (so is any
	// negative value).
	MaxMemory int64
	// Shards is the number of independently locked parts of every cache.
	// Requests on keys in different shards never wait for each other; more
	// shards cost a little memory per cache and a longer janitor sweep and
	// FlushCache. Default DefaultShards (64); rounded up to a power of two;
	// at most MaxShards (4096).
	Shards int
	// JanitorInterval is how often the background janitor removes expired
	// items that nobody reads. Reads never return an expired item whatever
	// its value; it bounds how long expired items hold memory. Default
	// DefaultJanitorInterval (100 ms); minimum MinJanitorInterval (1 ms).
	JanitorInterval time.Duration
}

// withDefaults returns c with every zero field set to its default and every
// field brought within its bounds.
func (c Config) withDefaults() Config {
	if c.MaxMemory < 0 {
		c.MaxMemory = 0
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
	return c
}
