package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
)

// TestServeRedisTwoNodesOneTruth runs two `thaw serve --store redis://...`
// processes on the Redis Cluster that THAW_REDIS_CLUSTER names, in one
// namespace of their own, and checks that they serve one set of data: a
// cache created through either is listed by both, a write through one is
// read through the other, and a topic item published through one reaches a
// subscriber on the other, in one sequence.
func TestServeRedisTwoNodesOneTruth(t *testing.T) {
	seeds := os.Getenv("THAW_REDIS_CLUSTER")
	if seeds == "" {
		t.Skip("THAW_REDIS_CLUSTER is not set: start a cluster with scripts/redis-cluster.sh start and set it to the seed list it prints (./test.sh does both)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "thaw")
	goBuild(t, bin, ".")
	ns := make([]byte, 8)
	if _, err := rand.Read(ns); err != nil {
		t.Fatal(err)
	}
	namespace := "thawtest-serve-" + hex.EncodeToString(ns)

	var conns [2]*grpc.ClientConn
	for i := range conns {
		ready := filepath.Join(dir, fmt.Sprintf("ready-%d.json", i))
		p := startThawProcess(t, bin, "serve", "--addr", "127.0.0.1:0", "--ready-file", ready,
			"--store", "redis://"+seeds, "--store-namespace", namespace)
		conn, err := grpc.NewClient(p.waitReady(t, ready), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conns[i] = conn
	}
	a, b := conns[0], conns[1]
	ctx := func(cache string) context.Context {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		if cache != "" {
			c = metadata.AppendToOutgoingContext(c, "cache", cache)
		}
		return c
	}
	list := func(conn *grpc.ClientConn) []string {
		t.Helper()
		resp, err := controlpb.NewScsControlClient(conn).ListCaches(ctx(""), &controlpb.XListCachesRequest{})
		if err != nil {
			t.Fatalf("ListCaches() = %v, want the caches", err)
		}
		var names []string
		for _, c := range resp.GetCache() {
			names = append(names, c.GetCacheName())
		}
		slices.Sort(names)
		return names
	}

	// Caches: one created on each node, both listed by both.
	if _, err := controlpb.NewScsControlClient(a).CreateCache(ctx(""), &controlpb.XCreateCacheRequest{CacheName: proto.String("from-a")}); err != nil {
		t.Fatalf("CreateCache(from-a) through node A = %v, want nil", err)
	}
	if _, err := controlpb.NewScsControlClient(b).CreateCache(ctx(""), &controlpb.XCreateCacheRequest{CacheName: proto.String("from-b")}); err != nil {
		t.Fatalf("CreateCache(from-b) through node B = %v, want nil", err)
	}
	want := []string{"from-a", "from-b"}
	for i, conn := range conns {
		if got := list(conn); !slices.Equal(got, want) {
			t.Errorf("ListCaches() through node %c = %q, want %q", 'A'+i, got, want)
		}
	}

	// Scalars: written through A, read through B, and the other way.
	if _, err := cachepb.NewScsClient(a).Set(ctx("from-b"), &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v-a"), TtlMilliseconds: 60_000}); err != nil {
		t.Fatalf("Set(k) through node A = %v, want nil", err)
	}
	got, err := cachepb.NewScsClient(b).Get(ctx("from-b"), &cachepb.XGetRequest{CacheKey: []byte("k")})
	if err != nil || got.GetResult() != cachepb.ECacheResult_Hit || string(got.GetCacheBody()) != "v-a" {
		t.Errorf("Get(k) through node B = %v %q (%v), want Hit %q", got.GetResult(), got.GetCacheBody(), err, "v-a")
	}
	if _, err := cachepb.NewScsClient(b).Set(ctx("from-a"), &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v-b"), TtlMilliseconds: 60_000}); err != nil {
		t.Fatalf("Set(k) through node B = %v, want nil", err)
	}
	got, err = cachepb.NewScsClient(a).Get(ctx("from-a"), &cachepb.XGetRequest{CacheKey: []byte("k")})
	if err != nil || got.GetResult() != cachepb.ECacheResult_Hit || string(got.GetCacheBody()) != "v-b" {
		t.Errorf("Get(k) through node A = %v %q (%v), want Hit %q", got.GetResult(), got.GetCacheBody(), err, "v-b")
	}

	// Topics: a subscriber on B sees what A publishes, in one sequence.
	sub, err := pubsubpb.NewPubsubClient(b).Subscribe(ctx(""), &pubsubpb.XSubscriptionRequest{
		CacheName: proto.String("from-a"), Topic: proto.String("t")})
	if err != nil {
		t.Fatalf("Subscribe(from-a, t) through node B = %v, want a stream", err)
	}
	// The first message, a heartbeat, says the subscription is in place.
	if m, err := sub.Recv(); err != nil || m.GetHeartbeat() == nil {
		t.Fatalf("first message of the subscription = %v (%v), want a heartbeat", m, err)
	}
	texts := []string{"one", "two", "three"}
	for _, text := range texts {
		if _, err := pubsubpb.NewPubsubClient(a).Publish(ctx(""), &pubsubpb.XPublishRequest{
			CacheName: proto.String("from-a"), Topic: proto.String("t"),
			Value: &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Text{Text: text}}}); err != nil {
			t.Fatalf("Publish(%q) through node A = %v, want nil", text, err)
		}
	}
	var seen []string
	var last uint64
	for len(seen) < len(texts) {
		m, err := sub.Recv()
		if err != nil {
			t.Fatalf("Recv() after %q = %v, want the items", seen, err)
		}
		if m.GetHeartbeat() != nil {
			continue
		}
		item := m.GetItem()
		if item == nil {
			t.Fatalf("Recv() after %q = %v, want an item", seen, m)
		}
		if n := item.GetTopicSequenceNumber(); n <= last {
			t.Errorf("item %q has sequence number %d after %d, want it to increase", item.GetValue().GetText(), n, last)
		} else {
			last = n
		}
		seen = append(seen, item.GetValue().GetText())
	}
	if !slices.Equal(seen, texts) {
		t.Errorf("items on node B = %q, want %q", strings.Join(seen, ","), strings.Join(texts, ","))
	}
}
