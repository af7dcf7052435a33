// Package redis is a store.Store on a Redis Cluster (or Valkey), for running
// several `thaw serve` processes on one shared, replicated data set.
//
// One cluster-aware client (github.com/redis/rueidis: pipelining,
// client-side routing by hash slot) serves the whole store. Every operation
// is one Redis command or one Lua script, and every script touches one hash
// slot: an item and its companion key share a hash tag (see keys.go), so
// that the cache's items spread over all masters while each operation stays
// atomic. The only operation that spans slots, SortedSetUnionStore, reads
// each source atomically and then writes the destination in one script, as
// the store interface allows.
//
// The registry of caches lives in Redis (one hash under the namespace's own
// hash tag), so that every node agrees on it. Each cache has an epoch that
// is part of all its item and topic keys: FlushCache gives the cache a new
// epoch and DeleteCache drops it, so that its old keys vanish from view at
// once, and a background sweep (SCAN and UNLINK in batches on every master)
// removes them without blocking the cluster. Each node keeps a snapshot of
// the registry that it polls for changes (Config.RegistryPoll).
// Leaderboards (ZSETs, see leaderboard.go) live in a key space of their
// own, numbered by the cache's generation rather than its epoch, so that
// they survive FlushCache and go with DeleteCache.
//
// Scalars are Redis strings holding the SHA-256 hash of the value (64
// lower-case hex digits, store.Hash) followed by the value, so that the hash
// conditions of SetIf compare with a stored hash in the script (Redis Lua
// has SHA-1 only). Increment, whose result only the script knows, stores a
// placeholder instead, and a hash condition that meets one hashes the at
// most 20-byte value in Lua (see scalar.go). Collections are a HASH, SET,
// LIST or ZSET with a companion string holding the collection's payload
// size for CollectionWrite.MaxSize. Topics are streams (see topic.go).
package redis

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// Defaults of Config.
const (
	// DefaultNamespace is the first part of every key when
	// Config.Namespace is empty.
	DefaultNamespace = "thaw"
	// DefaultDialTimeout bounds connecting to one node.
	DefaultDialTimeout = 5 * time.Second
	// DefaultRegistryPoll is how often a store checks the registry for
	// caches created, flushed or deleted through other nodes.
	DefaultRegistryPoll = 100 * time.Millisecond
	// DefaultSweepBatch is how many keys one SCAN asks for, and one round
	// of UNLINKs removes, when a flushed or deleted cache's keys are
	// removed.
	DefaultSweepBatch = 1000
	// DefaultSweepRetry is how often a store looks for key spaces that are
	// left to remove, by a node that stopped during a sweep.
	DefaultSweepRetry = time.Minute
	// DefaultTopicRetention is how many items a topic keeps.
	DefaultTopicRetention = 1024
	// DefaultTopicIdleTTL is how long a topic lives after its last use.
	DefaultTopicIdleTTL = 10 * time.Minute
)

// hashLen is the length of the hash stored before every scalar value.
const hashLen = store.HashSize

// Config configures a Store. Only Addrs is required; every zero field takes
// its default.
type Config struct {
	// Addrs are seed nodes of the cluster, host:port; the client discovers
	// the others. At least one.
	Addrs []string
	// Username and Password authenticate every connection (AUTH). Empty:
	// none; a Password alone uses the default user.
	Username, Password string
	// TLS, when not nil, connects to every node with TLS.
	TLS *tls.Config
	// Namespace is the first part of every key, so that several thaw
	// deployments can share a cluster: ASCII letters, digits, '.', '_' and
	// '-'. Stores with the same namespace see the same caches. Default
	// DefaultNamespace ("thaw").
	Namespace string
	// DialTimeout bounds connecting to one node, at start-up too, and how
	// long a node may take to answer where no caller's deadline applies:
	// each step of a sweep, each read of a topic subscription. A node that
	// takes longer counts as unavailable (store.ErrUnavailable). Default
	// DefaultDialTimeout (5 s).
	DialTimeout time.Duration
	// RegistryPoll is how often the store reads the registry's version to
	// learn of caches created, flushed or deleted through other nodes. It
	// bounds how long this node still serves a cache that another node
	// deleted or flushed (through this node, the change is immediate).
	// Default DefaultRegistryPoll (100 ms).
	RegistryPoll time.Duration
	// SweepBatch is how many keys each SCAN of a sweep asks for and each
	// round of UNLINKs removes. Default DefaultSweepBatch (1000).
	SweepBatch int
	// SweepRetry is how often the store resumes sweeps that no node
	// finished (one stopped during it). Default DefaultSweepRetry (1 min).
	SweepRetry time.Duration
	// MaxCaches is how many caches the namespace may hold, across every
	// node that serves it; CreateCache beyond it fails with
	// store.ErrCacheLimit. Zero, the default, sets no limit.
	MaxCaches int
	// TopicRetention is how many of its latest items each topic keeps for
	// subscribers that resume or fall behind (XADD MAXLEN =). Default
	// DefaultTopicRetention (1024).
	TopicRetention int
	// TopicIdleTTL is how long a topic keeps its items and its sequence
	// page after it was last published to or subscribed to (its keys'
	// expiry, which open subscriptions renew). Default DefaultTopicIdleTTL
	// (10 minutes).
	TopicIdleTTL time.Duration
	// StatsMaxAge lets Stats answer with a count at most this old instead
	// of scanning again; for metrics scrapes that call it repeatedly.
	// Default 0: every call scans.
	StatsMaxAge time.Duration
	// Logger receives the errors of background work (registry polls,
	// sweeps). Nil discards them.
	Logger *slog.Logger
}

// validNamespace matches the namespaces Config accepts.
var validNamespace = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.RegistryPoll <= 0 {
		c.RegistryPoll = DefaultRegistryPoll
	}
	if c.SweepBatch <= 0 {
		c.SweepBatch = DefaultSweepBatch
	}
	if c.SweepRetry <= 0 {
		c.SweepRetry = DefaultSweepRetry
	}
	if c.TopicRetention <= 0 {
		c.TopicRetention = DefaultTopicRetention
	}
	if c.TopicIdleTTL <= 0 {
		c.TopicIdleTTL = DefaultTopicIdleTTL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// errClosed is returned by every method once the store is closed.
var errClosed = fmt.Errorf("redis: %w", store.ErrClosed)

// Store is a store.Store on a Redis Cluster. Create it with New and release
// it with Close.
type Store struct {
	cfg    Config
	client rueidis.Client
	keys   registryKeys

	reg       atomic.Pointer[registry] // this node's snapshot of the caches
	refreshMu sync.Mutex               // serializes registry refreshes

	closed atomic.Bool
	mu     sync.Mutex          // guards closing, sweeping
	bg     context.Context     // background work; done once Close starts
	stop   context.CancelFunc  // cancels bg
	wg     sync.WaitGroup      // background goroutines
	sweeps map[string]struct{} // sweeps this node runs, by registry member

	stats statsCache
	// sweptBatches counts the rounds of UNLINKs sweeps have sent.
	sweptBatches atomic.Int64

	probeMu   sync.Mutex        // guards probeKeys
	probeKeys map[uint16]string // Ping's key for a slot, by slot
}

var _ store.Store = (*Store)(nil)

// New connects to the cluster that cfg names and returns a running store.
// It fails, within ctx and cfg.DialTimeout, when no seed is reachable, when
// the nodes are not a Redis Cluster (cluster mode disabled) or when the
// cluster does not serve every slot.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("redis: no cluster address given")
	}
	if err := CheckNamespace(cfg.Namespace); err != nil {
		return nil, err
	}
	client, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:  cfg.Addrs,
		Username:     cfg.Username,
		Password:     cfg.Password,
		TLSConfig:    cfg.TLS,
		Dialer:       net.Dialer{Timeout: cfg.DialTimeout},
		DisableCache: true, // no client-side caching: the registry has its own snapshot
		ClientName:   "thaw",
		// Pipelining stays at rueidis's cluster defaults (auto-pipelining,
		// one connection per node): scripts/bench-server.sh measured no
		// gain beyond its spread from 4 connections per node or a 20 µs
		// MaxFlushDelay (README, Performance).
	})
	if err != nil {
		return nil, fmt.Errorf("redis: connecting to %s: %w", strings.Join(cfg.Addrs, ","), err)
	}
	if mode := client.Mode(); mode != rueidis.ClientModeCluster {
		client.Close()
		return nil, fmt.Errorf("redis: %s is a %s Redis, not a Redis Cluster (thaw needs cluster-enabled yes)", strings.Join(cfg.Addrs, ","), mode)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	info, err := client.Do(ctx, client.B().ClusterInfo().Build()).ToString()
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("redis: CLUSTER INFO on %s: %w", strings.Join(cfg.Addrs, ","), err)
	}
	if !strings.Contains(info, "cluster_state:ok") {
		client.Close()
		return nil, fmt.Errorf("redis: the cluster at %s is not serving every slot (cluster_state is not ok)", strings.Join(cfg.Addrs, ","))
	}

	bg, stop := context.WithCancel(context.Background())
	s := &Store{
		cfg:    cfg,
		client: client,
		keys:   newRegistryKeys(cfg.Namespace),
		bg:     bg,
		stop:   stop,
		sweeps: map[string]struct{}{},
	}
	s.reg.Store(&registry{refs: map[string]cacheRef{}})
	if err := s.refresh(ctx); err != nil {
		stop()
		client.Close()
		return nil, fmt.Errorf("redis: reading the cache registry: %w", err)
	}
	s.wg.Go(s.runRegistryPoll)
	s.wg.Go(s.runSweepRetry)
	return s, nil
}

// Close stops the background work and closes the connections. Sweeps that
// were under way resume on the next store that opens the namespace (or on
// another node, within its SweepRetry). Later calls of every method, Close
// included, return store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return errClosed
	}
	s.closed.Store(true)
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
	s.client.Close()
	return nil
}

// A Store is a store.Pinger: the server's health check polls it.
var _ store.Pinger = (*Store)(nil)

// Ping checks, within ctx, that the store can serve every hash slot: it
// learns which master owns each slot (see slotOwners) and sends each owner
// a keyed read through the client's own routing, so that a slot whose
// master is down, or that the client still routes to a master that failed
// over, fails it. Replicas are not asked: a replica that is down does not
// stop the store from serving. An unreachable master's error wraps
// store.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	owners, err := s.slotOwners(ctx)
	if err != nil {
		return err
	}
	cmds := make(rueidis.Commands, len(owners))
	for i, o := range owners {
		cmds[i] = s.client.B().Exists().Key(s.probeKey(o.first)).Build()
	}
	// As in slotOwners, the reads do not end with ctx, so that a ping
	// that gives up never cancels a connection while it dials.
	done := make(chan error, 1)
	go func() {
		probe, cancel := context.WithTimeout(s.bg, s.cfg.DialTimeout)
		defer cancel()
		for i, res := range s.client.DoMulti(probe, cmds...) {
			if err := res.Error(); err != nil {
				done <- s.wrap(s.bg, "ping the master of slot "+strconv.Itoa(int(owners[i].first))+" at "+owners[i].addr, err)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return s.wrap(ctx, "ping", ctx.Err())
	}
}

// masters returns a client for every master that owns hash slots, by
// address: the nodes a SCAN of every key visits.
func (s *Store) masters(ctx context.Context) (map[string]rueidis.Client, error) {
	owners, err := s.slotOwners(ctx)
	if err != nil {
		return nil, err
	}
	masters, err := s.clientsOf(owners)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return masters, nil
}

// clientsOf returns a client of each master in owners, by address, that
// sends to that node alone.
func (s *Store) clientsOf(owners []slotOwner) (map[string]rueidis.Client, error) {
	nodes := s.client.Nodes()
	out := map[string]rueidis.Client{}
	for _, o := range owners {
		node, ok := nodes[o.addr]
		if !ok {
			return nil, fmt.Errorf("the master %s of slots %d-%d is not connected yet: %w", o.addr, o.first, o.last, store.ErrUnavailable)
		}
		out[o.addr] = node
	}
	return out, nil
}

// probeKey returns a key in hash slot slot that the store never writes,
// for Ping's keyed reads.
func (s *Store) probeKey(slot uint16) string {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	if k, ok := s.probeKeys[slot]; ok {
		return k
	}
	k := s.cfg.Namespace + ":ping:{" + slotTag(slot) + "}"
	if s.probeKeys == nil {
		s.probeKeys = map[uint16]string{}
	}
	s.probeKeys[slot] = k
	return k
}

// cache returns the cache named name, or store.ErrCacheNotFound. A name
// missing from this node's snapshot is looked up in the registry itself,
// for a cache created through another node since the last poll.
func (s *Store) cache(ctx context.Context, op, name string) (cacheRef, error) {
	if s.closed.Load() {
		return cacheRef{}, errClosed
	}
	if ref, ok := s.reg.Load().refs[name]; ok {
		return ref, nil
	}
	res, err := lookupCacheScript.Exec(ctx, s.client, s.registryKeys(), []string{name}).AsStrSlice()
	if rueidis.IsRedisNil(err) {
		return cacheRef{}, notFound(op, name)
	}
	if err != nil {
		return cacheRef{}, s.wrap(ctx, op, err)
	}
	if len(res) != 2 {
		return cacheRef{}, fmt.Errorf("redis: %s: cache %q: malformed registry reply %q", op, name, res)
	}
	e, err := strconv.ParseUint(res[0], 10, 64)
	if err != nil {
		return cacheRef{}, fmt.Errorf("redis: %s: cache %q has a malformed epoch %q", op, name, res[0])
	}
	gen, err := strconv.ParseUint(res[1], 10, 64)
	if err != nil {
		return cacheRef{}, fmt.Errorf("redis: %s: cache %q has a malformed leaderboard generation %q", op, name, res[1])
	}
	if err := s.refresh(ctx); err != nil {
		s.cfg.Logger.Warn("redis: refreshing the cache registry", "err", err)
	}
	return newCacheRef(s.cfg.Namespace, name, e, gen), nil
}

// notFound is the error for a cache that does not exist.
func notFound(op, name string) error {
	return fmt.Errorf("redis: %s: cache %q: %w", op, name, store.ErrCacheNotFound)
}

// millis renders a TTL in whole milliseconds, rounded up so that an item
// never expires early; it is at least 1.
func millis(ttl time.Duration) string {
	ms := (ttl + time.Millisecond - 1) / time.Millisecond
	return strconv.FormatInt(max(int64(ms), 1), 10)
}

// checkTTL rejects a TTL that is not positive.
func checkTTL(op string, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("redis: %s: ttl %v is not positive: %w", op, ttl, store.ErrInvalidTTL)
	}
	return nil
}

// scalarValue is what a scalar's key holds: Hash(value) followed by value.
func scalarValue(value []byte) string {
	b := make([]byte, hashLen+len(value))
	sum := sha256.Sum256(value)
	hex.Encode(b[:hashLen], sum[:])
	copy(b[hashLen:], value)
	return rueidis.BinaryString(b)
}

// bin passes b to the client without copying it; callers of the store may
// not modify the slices they pass in.
func bin(b []byte) string { return rueidis.BinaryString(b) }

// boolArg renders a flag for a script.
func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// itoa renders an int for a script.
func itoa(n int) string { return strconv.Itoa(n) }

// CheckNamespace returns an error for a namespace that Config does not
// accept: empty, or with characters other than ASCII letters, digits, '.',
// '_' and '-'.
func CheckNamespace(ns string) error {
	if !validNamespace.MatchString(ns) {
		return fmt.Errorf("redis: namespace %q: use ASCII letters, digits, '.', '_' and '-'", ns)
	}
	return nil
}
