package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// Topics: a STREAM per topic whose entry ids are the topic's positions,
// "<page>-<sequence>", and a companion HASH with the page and the last
// sequence number given out (the head). Publish is one script (HINCRBY of
// the head and XADD with MAXLEN = TopicRetention, so the stream keeps the
// latest items exactly), so concurrent publishers through any node get
// distinct, gapless numbers in one order. A topic starts on a page that is
// the master's time in milliseconds, and never less than the cache's epoch
// plus one, which makes every page of a flushed cache's new epoch greater
// than the pages before the flush (epochs come from the same clock; see
// registry.go). Both keys expire TopicIdleTTL after the last publish or
// subscribe (open subscriptions renew them), and a flush or delete sweeps
// them with the cache's other keys.
//
// A subscription reads with XRANGE and, when it has caught up, with XREAD
// BLOCK in rounds of at most topicPollRound; between rounds it checks this
// node's registry snapshot, so that deleting or flushing the cache, through
// any node, ends it (within a round and a registry poll).

// topicPollRound bounds one XREAD BLOCK of a subscription that waits.
const topicPollRound = 500 * time.Millisecond

// topicReadBatch is how many entries one read asks for.
const topicReadBatch = 256

// topicPageLua starts the topic's page when it has none: the master's time
// in ms, at least ARGV[1] (the cache's epoch plus one). KEYS[1] the stream,
// KEYS[2] the page and head.
const topicPageLua = `
local T, TM = KEYS[1], KEYS[2]
local function topic_page()
  local page = redis.call('HGET', TM, 'page')
  if page then return page, false end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  page = string.format('%d', math.max(now, tonumber(ARGV[1])))
  redis.call('UNLINK', T)
  redis.call('HSET', TM, 'page', page, 'head', 0)
  return page, true
end
`

var (
	// publishScript: ARGV[1] the page floor, ARGV[2] the retention,
	// ARGV[3] the idle TTL in ms, then the data, the text flag and the
	// publisher id. It answers {page, sequence}.
	publishScript = rueidis.NewLuaScript(topicPageLua + `
local page = topic_page()
local seq = string.format('%d', redis.call('HINCRBY', TM, 'head', 1))
redis.call('XADD', T, 'MAXLEN', ARGV[2], page .. '-' .. seq, 'd', ARGV[4], 't', ARGV[5], 'p', ARGV[6])
redis.call('PEXPIRE', T, ARGV[3])
redis.call('PEXPIRE', TM, ARGV[3])
return {page, seq}
`)

	// subscribeScript: ARGV[1] the page floor, ARGV[2] the idle TTL in
	// ms. It answers {page, head, first}: the sequence numbers of the last
	// item published and of the oldest retained (head+1 when none is).
	subscribeScript = rueidis.NewLuaScript(topicPageLua + `
local page = topic_page()
local head = tonumber(redis.call('HGET', TM, 'head'))
local first = head + 1
local e = redis.call('XRANGE', T, '-', '+', 'COUNT', 1)
if #e > 0 then first = tonumber(string.match(e[1][1], '%-(%d+)$')) end
redis.call('PEXPIRE', T, ARGV[2])
redis.call('PEXPIRE', TM, ARGV[2])
return {page, string.format('%d', head), string.format('%d', first)}
`)
)

// pageFloor is the least page a topic of c may start on.
func pageFloor(c cacheRef) string {
	return strconv.FormatUint(c.epoch+1, 10)
}

// Publish appends msg to the topic's stream: HINCRBY and XADD MAXLEN in one
// script.
func (s *Store) Publish(ctx context.Context, cacheName, topic string, msg store.TopicMessage) (store.TopicPosition, error) {
	const op = "publish"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return store.TopicPosition{}, err
	}
	stream, meta := c.topicKeys(topic)
	res, err := publishScript.Exec(ctx, s.client, []string{stream, meta}, []string{
		pageFloor(c), itoa(s.cfg.TopicRetention), millis(s.cfg.TopicIdleTTL),
		bin(msg.Data), boolArg(msg.Text), msg.PublisherID,
	}).AsStrSlice()
	if err != nil {
		return store.TopicPosition{}, s.wrap(ctx, op, err)
	}
	if len(res) != 2 {
		return store.TopicPosition{}, fmt.Errorf("redis: %s: malformed reply %q", op, res)
	}
	page, err1 := strconv.ParseUint(res[0], 10, 64)
	seq, err2 := strconv.ParseUint(res[1], 10, 64)
	if err1 != nil || err2 != nil {
		return store.TopicPosition{}, fmt.Errorf("redis: %s: malformed position %q", op, res)
	}
	return store.TopicPosition{Sequence: seq, Page: page}, nil
}

// Subscribe starts a subscription at from; see store.TopicStore. It reads
// the topic's page, head and oldest retained item in one script, starting
// the topic's page when it has none, as the memory store does.
func (s *Store) Subscribe(ctx context.Context, cacheName, topic string, from store.TopicPosition) (store.TopicSubscription, error) {
	const op = "subscribe"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return nil, err
	}
	stream, meta := c.topicKeys(topic)
	// The caller's ctx is a subscriber's, often with no deadline: a master
	// that does not answer fails the call with store.ErrUnavailable.
	sctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	res, err := subscribeScript.Exec(sctx, s.client, []string{stream, meta}, []string{pageFloor(c), millis(s.cfg.TopicIdleTTL)}).AsStrSlice()
	cancel()
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	var nums [3]uint64
	if len(res) != 3 {
		return nil, fmt.Errorf("redis: %s: malformed reply %q", op, res)
	}
	for i := range nums {
		if nums[i], err = strconv.ParseUint(res[i], 10, 64); err != nil {
			return nil, fmt.Errorf("redis: %s: malformed reply %q", op, res)
		}
	}
	page, head, first := nums[0], nums[1], nums[2]
	sub := &subscription{store: s, cache: c, stream: stream, meta: meta, page: page, touched: time.Now()}
	switch {
	case from.Sequence == 0:
		sub.next = head + 1
	case from.Page != 0 && from.Page != page:
		// Another page's numbers say nothing about this one: everything
		// retained here came after what the subscriber had.
		sub.pending = &store.TopicDiscontinuity{LastSequence: from.Sequence - 1, NewSequence: first - 1, NewPage: page}
		sub.next = first
	case from.Sequence > head+1:
		sub.pending = &store.TopicDiscontinuity{LastSequence: from.Sequence - 1, NewSequence: head, NewPage: page}
		sub.next = head + 1
	default:
		// Next reports the gap if from.Sequence is older than first.
		sub.next = from.Sequence
	}
	return sub, nil
}

// parseEntryID splits a stream entry id into page and sequence number.
func parseEntryID(id string) (page, seq uint64, err error) {
	p, q, ok := strings.Cut(id, "-")
	if !ok {
		return 0, 0, fmt.Errorf("malformed stream entry id %q", id)
	}
	if page, err = strconv.ParseUint(p, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("malformed stream entry id %q", id)
	}
	if seq, err = strconv.ParseUint(q, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("malformed stream entry id %q", id)
	}
	return page, seq, nil
}

// entryID renders a position as a stream entry id.
func entryID(page, seq uint64) string {
	return strconv.FormatUint(page, 10) + "-" + strconv.FormatUint(seq, 10)
}
