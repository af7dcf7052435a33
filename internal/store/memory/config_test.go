package memory

import (
	"testing"
	"time"
)

func TestConfigWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want Config
	}{
		{"Zero", Config{}, Config{Shards: DefaultShards, JanitorInterval: DefaultJanitorInterval}},
		{"Kept", Config{MaxMemory: 1 << 20, Shards: 16, JanitorInterval: time.Second}, Config{MaxMemory: 1 << 20, Shards: 16, JanitorInterval: time.Second}},
		{"NegativeMemoryIsUnlimited", Config{MaxMemory: -1}, Config{Shards: DefaultShards, JanitorInterval: DefaultJanitorInterval}},
		{"ShardsRoundedUp", Config{Shards: 100}, Config{Shards: 128, JanitorInterval: DefaultJanitorInterval}},
		{"OneShard", Config{Shards: 1}, Config{Shards: 1, JanitorInterval: DefaultJanitorInterval}},
		{"ShardsCapped", Config{Shards: 1 << 20}, Config{Shards: MaxShards, JanitorInterval: DefaultJanitorInterval}},
		{"IntervalRaisedToMinimum", Config{JanitorInterval: time.Nanosecond}, Config{Shards: DefaultShards, JanitorInterval: MinJanitorInterval}},
		{"NegativeInterval", Config{JanitorInterval: -time.Second}, Config{Shards: DefaultShards, JanitorInterval: MinJanitorInterval}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.withDefaults(); got != tc.want {
				t.Errorf("%+v.withDefaults() = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}
