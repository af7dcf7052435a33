package bench

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBenchParseOps(t *testing.T) {
	good := []struct {
		in   string
		want []OpWeight
	}{
		{"get:80,set:20", []OpWeight{{OpGet, 80}, {OpSet, 20}}},
		{" GET : 3 , delete", []OpWeight{{OpGet, 3}, {OpDelete, 1}}},
		{"dictionary-get:1,dictionary-set:2,", []OpWeight{{OpDictionaryGet, 1}, {OpDictionarySet, 2}}},
	}
	for _, tt := range good {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOps(tt.in)
			if err != nil {
				t.Fatalf("ParseOps(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseOps(%q) (-want +got):\n%s", tt.in, diff)
			}
			if again, _ := ParseOps(FormatOps(got)); !cmp.Equal(again, got) {
				t.Errorf("ParseOps(FormatOps(%v)) = %v", got, again)
			}
		})
	}
	bad := []struct{ in, want string }{
		{"get:80,foo:20", `unknown op "foo"`},
		{"get:0", "weight of get"},
		{"get:-1", "weight of get"},
		{"get:x", "weight of get"},
		{"get,get", "get appears twice"},
		{"", "at least one op"},
		{" , ", "at least one op"},
	}
	for _, tt := range bad {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseOps(tt.in)
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseOps(%q) = %v, want ErrUsage mentioning %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestBenchValidate(t *testing.T) {
	if err := DefaultConfig("127.0.0.1:8080").Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v, want nil", err)
	}
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "--endpoint is required"},
		{"endpoint without port", func(c *Config) { c.Endpoint = "localhost" }, "want HOST:PORT"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "--rate -1"},
		{"zero concurrency", func(c *Config) { c.Concurrency = 0 }, "--concurrency 0"},
		{"more connections than workers", func(c *Config) { c.Concurrency, c.Connections = 2, 3 }, "--connections 3: want at most --concurrency"},
		{"zero keys", func(c *Config) { c.Keys = 0 }, "--keys 0"},
		{"bad distribution", func(c *Config) { c.Distribution = "pareto" }, `--distribution "pareto"`},
		{"zero duration", func(c *Config) { c.Duration = 0 }, "--duration 0s"},
		{"ttl shorter than the run", func(c *Config) { c.TTL = time.Second }, "--ttl 1s"},
		{"huge value", func(c *Config) { c.ValueSize = MaxValueSize + 1 }, "--value-size"},
		{"idle with rate", func(c *Config) { c.IdleConnections, c.Rate = 10, 5 }, "--rate applies to the load mode"},
		{"idle negative keepalive", func(c *Config) { c.IdleConnections, c.Keepalive = 10, -time.Second }, "--keepalive -1s"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("127.0.0.1:8080")
			tt.edit(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want ErrUsage mentioning %q", err, tt.want)
			}
		})
	}
}

// TestBenchZipfKeys: zipfian draws stay in range and favour the first keys
// as theta 0.99 says: item 0 is drawn about 1/zeta(n) of the time, and far
// more often than a key in the tail.
func TestBenchZipfKeys(t *testing.T) {
	const n, draws = 1000, 200_000
	z := newZipfKeys(n, zipfTheta)
	r := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, n)
	for range draws {
		k := z.next(r)
		if k < 0 || k >= n {
			t.Fatalf("next() = %d, want 0 to %d", k, n-1)
		}
		counts[k]++
	}
	share0 := float64(counts[0]) / draws
	if want := 1 / z.zetan; share0 < 0.8*want || share0 > 1.2*want {
		t.Errorf("share of key 0 = %.4f, want about %.4f", share0, want)
	}
	if counts[0] < 10*counts[n/2] || counts[0] < counts[1] {
		t.Errorf("counts[0] = %d, counts[1] = %d, counts[%d] = %d; want key 0 the hottest by far", counts[0], counts[1], n/2, counts[n/2])
	}
	single := newZipfKeys(1, zipfTheta)
	for range 100 {
		if k := single.next(r); k != 0 {
			t.Fatalf("one-key zipf next() = %d, want 0", k)
		}
	}
}

// TestBenchMixPick: ops are drawn in proportion to their weights.
func TestBenchMixPick(t *testing.T) {
	ops, _ := ParseOps("get:80,set:15,delete:5")
	m := newMix(ops)
	r := rand.New(rand.NewPCG(3, 4))
	counts := make([]int, len(m.ops))
	const draws = 100_000
	for range draws {
		counts[m.pick(r)]++
	}
	for i, w := range []float64{0.80, 0.15, 0.05} {
		if got := float64(counts[i]) / draws; got < w-0.02 || got > w+0.02 {
			t.Errorf("share of %s = %.3f, want about %.2f", m.ops[i].name, got, w)
		}
	}
}
