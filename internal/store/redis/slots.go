package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// slotCount is the number of hash slots of a Redis Cluster.
const slotCount = 16384

// slotOwner is a range of hash slots, first to last, and the address of
// the master that serves them.
type slotOwner struct {
	first, last uint16
	addr        string
}

// slotOwners returns the masters that serve the hash slots, by range,
// ordered by first slot, as the cluster sees it: CLUSTER SLOTS, asked of
// every node the client knows at once, the first answer that covers every
// slot. Asking all of them keeps a node that does not answer (a paused
// replica, say) from holding up the answer; a node that answers with a
// slot map missing slots (a cluster that lost a master) does not count. An
// error wraps store.ErrUnavailable when no node gave a full answer, or is
// ctx's when it ended first.
func (s *Store) slotOwners(ctx context.Context) ([]slotOwner, error) {
	nodes := s.client.Nodes()
	if len(nodes) == 0 {
		return nil, fmt.Errorf("redis: no node connected: %w", store.ErrUnavailable)
	}
	answers := s.askClusterSlots(nodes)
	var first error
	for range nodes {
		select {
		case a := <-answers:
			err := cmp.Or(a.silent, a.err)
			if err == nil {
				return a.owners, nil
			}
			if first == nil {
				first = err
			}
		case <-ctx.Done():
			if first != nil {
				return nil, first
			}
			return nil, s.wrap(ctx, "cluster slots", ctx.Err())
		}
	}
	return nil, first
}

// askClusterSlots asks every node of nodes for CLUSTER SLOTS at once; the
// channel, with room for every answer, gets one from each. The questions
// do not end with the caller's ctx: a question left behind must not cancel
// the node's connection while it dials (the client would fail the commands
// waiting for that dial with it). Each has DialTimeout, and ends with the
// store.
func (s *Store) askClusterSlots(nodes map[string]rueidis.Client) <-chan slotsAnswer {
	answers := make(chan slotsAnswer, len(nodes))
	for addr, node := range nodes {
		go func() {
			ask, cancel := context.WithTimeout(s.bg, s.cfg.DialTimeout)
			defer cancel()
			reply, err := node.Do(ask, node.B().ClusterSlots().Build()).ToArray()
			if err != nil {
				answers <- slotsAnswer{addr: addr, silent: s.wrap(s.bg, "cluster slots of "+addr, err)}
				return
			}
			owners, err := parseSlotOwners(addr, reply)
			answers <- slotsAnswer{addr: addr, owners: owners, err: err}
		}()
	}
	return answers
}

// agreedSlotOwners is slotOwners for work that must not act on a stale
// view (a sweep): CLUSTER SLOTS asked of every node the client knows, all
// answers awaited (each has DialTimeout), and the map they agree on (see
// agreeOnSlotOwners). A master that resumes after its replica took over
// (a paused process, a healed partition) answers with the map it had until
// gossip tells it otherwise, and accepts writes that its resync with the
// new master then drops; while it does, the nodes disagree, and this fails
// with store.ErrUnavailable, so that the caller retries later. Its errors
// start with op.
func (s *Store) agreedSlotOwners(ctx context.Context, op string) ([]slotOwner, error) {
	nodes := s.client.Nodes()
	answers := s.askClusterSlots(nodes)
	got := make([]slotsAnswer, 0, len(nodes))
	for range nodes {
		select {
		case a := <-answers:
			got = append(got, a)
		case <-ctx.Done():
			return nil, s.wrap(ctx, op+": cluster slots", ctx.Err())
		}
	}
	owners, err := agreeOnSlotOwners(got)
	if err != nil {
		return nil, fmt.Errorf("redis: %s: %w", op, err)
	}
	return owners, nil
}

// slotsAnswer is what one node answered to CLUSTER SLOTS.
type slotsAnswer struct {
	addr   string
	owners []slotOwner // its full map, if it gave one
	err    error       // why its map is not a full one
	silent error       // why it gave no answer at all (down, paused, refused)
}

// agreeOnSlotOwners returns the map of slot owners that the nodes agree on:
// every node that answered gave the same full map, and every master in it
// answered. Nodes that did not answer are left out unless they are
// masters in that map. Otherwise the error, which wraps
// store.ErrUnavailable, says which node stood out.
func agreeOnSlotOwners(answers []slotsAnswer) ([]slotOwner, error) {
	var agreed []slotOwner
	var agreedBy string
	var firstSilence error
	answered := map[string]bool{}
	for _, a := range answers {
		switch {
		case a.silent != nil:
			if firstSilence == nil {
				firstSilence = a.silent
			}
			continue
		case a.err != nil:
			return nil, fmt.Errorf("node %s has no full slot map (a failover under way?): %w", a.addr, asUnavailable(a.err))
		case agreed == nil:
			agreed, agreedBy = a.owners, a.addr
		case !slices.Equal(agreed, a.owners):
			return nil, fmt.Errorf("nodes %s and %s disagree on which masters serve the hash slots (%s against %s; a failover under way?): %w",
				agreedBy, a.addr, describeOwners(agreed), describeOwners(a.owners), store.ErrUnavailable)
		}
		answered[a.addr] = true
	}
	if agreed == nil {
		if firstSilence != nil {
			return nil, fmt.Errorf("no node answered CLUSTER SLOTS: %w", asUnavailable(firstSilence))
		}
		return nil, fmt.Errorf("no node connected: %w", store.ErrUnavailable)
	}
	for _, o := range agreed {
		if !answered[o.addr] {
			return nil, fmt.Errorf("the master %s of slots %d-%d did not answer CLUSTER SLOTS: %w", o.addr, o.first, o.last, store.ErrUnavailable)
		}
	}
	return agreed, nil
}

// asUnavailable is err, wrapping store.ErrUnavailable if it does not yet.
func asUnavailable(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", err, store.ErrUnavailable)
}

// describeOwners is owners as "first-last@addr ...", for error messages.
func describeOwners(owners []slotOwner) string {
	parts := make([]string, len(owners))
	for i, o := range owners {
		parts[i] = fmt.Sprintf("%d-%d@%s", o.first, o.last, o.addr)
	}
	return strings.Join(parts, " ")
}

// parseSlotOwners reads a CLUSTER SLOTS reply of the node at addr: entries
// of first slot, last slot, master (host, port, ...) and replicas. An
// empty host is addr's. It fails unless the ranges cover every slot once.
func parseSlotOwners(addr string, reply []rueidis.RedisMessage) ([]slotOwner, error) {
	defaultHost, _, _ := net.SplitHostPort(addr)
	var owners []slotOwner
	for i := range reply {
		vals, err := reply[i].ToArray()
		if err != nil || len(vals) < 3 {
			return nil, fmt.Errorf("redis: cluster slots of %s: malformed entry", addr)
		}
		first, err1 := vals[0].AsInt64()
		last, err2 := vals[1].AsInt64()
		master, err3 := vals[2].ToArray()
		if err1 != nil || err2 != nil || err3 != nil || len(master) < 2 || first < 0 || last < first || last >= slotCount {
			return nil, fmt.Errorf("redis: cluster slots of %s: malformed entry", addr)
		}
		host, err1 := master[0].ToString()
		port, err2 := master[1].AsInt64()
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("redis: cluster slots of %s: malformed master", addr)
		}
		switch host {
		case "":
			host = defaultHost
		case "?":
			return nil, fmt.Errorf("redis: cluster slots of %s: the master of slots %d-%d has no known address: %w", addr, first, last, store.ErrUnavailable)
		}
		owners = append(owners, slotOwner{first: uint16(first), last: uint16(last), addr: net.JoinHostPort(host, strconv.FormatInt(port, 10))})
	}
	slices.SortFunc(owners, func(a, b slotOwner) int { return int(a.first) - int(b.first) })
	next := 0
	for _, o := range owners {
		if int(o.first) != next {
			break
		}
		next = int(o.last) + 1
	}
	if next != slotCount {
		return nil, fmt.Errorf("redis: node %s does not see every hash slot served (slot %d is not): %w", addr, next, store.ErrUnavailable)
	}
	return owners, nil
}

// keySlot is the hash slot of key, as Redis Cluster computes it: the CRC16
// of its hash tag (what lies between its first "{" and the first "}" after
// it, when that is not empty), else of the whole key.
func keySlot(key string) uint16 {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			key = key[open+1 : open+1+n]
		}
	}
	return crc16(key) % slotCount
}

// ownerOf returns the address of the master of slot in owners, which
// cover every slot (see parseSlotOwners).
func ownerOf(owners []slotOwner, slot uint16) string {
	for _, o := range owners {
		if o.first <= slot && slot <= o.last {
			return o.addr
		}
	}
	return ""
}

// crc16 is the CRC-16/XMODEM of s, which Redis Cluster takes modulo
// slotCount as a key's hash slot.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// slotTag returns the shortest decimal number whose hash slot, as a hash
// tag, is slot (every slot has one below 2^20; see the test).
func slotTag(slot uint16) string {
	for i := 0; ; i++ {
		tag := strconv.Itoa(i)
		if crc16(tag)%slotCount == slot {
			return tag
		}
	}
}
