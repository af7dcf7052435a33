package memory

import (
	"testing"
	"time"
)

func TestConfigWithDefaults(t *testing.T) {
	// defaults returns the zero Config's defaults, changed by edit.
	defaults := func(edit func(*Config)) Config {
		c := Config{
			Shards:              DefaultShards,
			JanitorInterval:     DefaultJanitorInterval,
			TopicRetention:      DefaultTopicRetention,
			TopicRetentionBytes: DefaultTopicRetentionBytes,
			TopicIdleTTL:        DefaultTopicIdleTTL,
		}
		if edit != nil {
			edit(&c)
		}
		return c
	}
	tests := []struct {
		name string
		in   Config
		want Config
	}{
		{"Zero", Config{}, defaults(nil)},
		{"Kept",
			Config{MaxMemory: 1 << 20, Shards: 16, JanitorInterval: time.Second, TopicRetention: 8, TopicRetentionBytes: 4096, TopicIdleTTL: time.Minute},
			Config{MaxMemory: 1 << 20, Shards: 16, JanitorInterval: time.Second, TopicRetention: 8, TopicRetentionBytes: 4096, TopicIdleTTL: time.Minute}},
		{"NegativeMemoryIsUnlimited", Config{MaxMemory: -1}, defaults(nil)},
		{"ShardsRoundedUp", Config{Shards: 100}, defaults(func(c *Config) { c.Shards = 128 })},
		{"OneShard", Config{Shards: 1}, defaults(func(c *Config) { c.Shards = 1 })},
		{"ShardsCapped", Config{Shards: 1 << 20}, defaults(func(c *Config) { c.Shards = MaxShards })},
		{"IntervalRaisedToMinimum", Config{JanitorInterval: time.Nanosecond}, defaults(func(c *Config) { c.JanitorInterval = MinJanitorInterval })},
		{"NegativeInterval", Config{JanitorInterval: -time.Second}, defaults(func(c *Config) { c.JanitorInterval = MinJanitorInterval })},
		{"RetentionCapped", Config{TopicRetention: MaxTopicRetention + 1}, defaults(func(c *Config) { c.TopicRetention = MaxTopicRetention })},
		{"NegativeTopicFields", Config{TopicRetention: -1, TopicRetentionBytes: -1, TopicIdleTTL: -time.Second}, defaults(nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.withDefaults(); got != tc.want {
				t.Errorf("%+v.withDefaults() = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}
