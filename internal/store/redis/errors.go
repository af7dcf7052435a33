package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// The codes that thaw's scripts put first in their error replies; WRONGTYPE
// is Redis's own, which the scripts reuse.
const (
	codeWrongType = "WRONGTYPE"
	codeNotInt    = "THAW_NOTINT"
	codeOverflow  = "THAW_OVERFLOW"
	codeTooLarge  = "THAW_TOOLARGE"
	codeNaN       = "THAW_NAN"
	codeExists    = "THAW_EXISTS"
	codeNotFound  = "THAW_NOTFOUND"
	codeLimit     = "THAW_CACHELIMIT"
)

// sentinels maps the codes of genuine answers to the store's errors.
var sentinels = map[string]error{
	codeWrongType: store.ErrWrongType,
	codeNotInt:    store.ErrNotInteger,
	codeOverflow:  store.ErrOverflow,
	codeTooLarge:  store.ErrItemTooLarge,
	codeNaN:       store.ErrScoreNaN,
	codeExists:    store.ErrCacheExists,
	codeNotFound:  store.ErrCacheNotFound,
	codeLimit:     store.ErrCacheLimit,
}

// unavailableCodes are the codes of Redis error replies that say the
// cluster cannot serve the slot for now, not that the command is wrong: the
// cluster is down (CLUSTERDOWN), a slot is moving or a failover is under
// way (TRYAGAIN; MOVED and ASK, which the cluster client follows, reach
// the store only when it gave up redirecting, or from a command a sweep
// sends to one node; READONLY from a master demoted under
// the command; UNBLOCKED for a blocked read of a master that was demoted),
// a replica lost its master (MASTERDOWN), the node is still loading its
// data (LOADING), busy in a long script (BUSY) or short of replicas for a
// write (NOREPLICAS).
var unavailableCodes = []string{
	"CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK", "READONLY", "UNBLOCKED",
	"MASTERDOWN", "LOADING", "BUSY", "NOREPLICAS",
}

// wrap turns an error of the client, from a command sent within ctx, into
// the store's: the one place where the store classifies them.
//
//   - The code of a Redis error reply that is a genuine answer (WRONGTYPE,
//     a script's THAW_ codes) becomes the store's sentinel.
//   - An error that says Redis cannot serve for now (see unavailable)
//     wraps store.ErrUnavailable, so that the caller may retry.
//   - A ctx that ended keeps its own error (context.DeadlineExceeded or
//     context.Canceled): the caller gave up. A context error while ctx is
//     still live comes from a timeout of the client or of the store (a
//     node that accepts connections but does not answer): it is
//     store.ErrUnavailable, and does not wrap the context error, so that
//     nobody takes it for the caller's own deadline.
//   - Anything else (a script error, a malformed reply) is returned with
//     the package's prefix and op.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() {
		return errClosed
	}
	if re, ok := rueidis.IsRedisErr(err); ok {
		msg := re.Error()
		code, _, _ := strings.Cut(msg, " ")
		if sentinel := sentinels[code]; sentinel != nil {
			return fmt.Errorf("redis: %s: %s: %w", op, msg, sentinel)
		}
	}
	if isContextErr(err) {
		if ended(ctx) {
			return fmt.Errorf("redis: %s: %w", op, err)
		}
		return fmt.Errorf("redis: %s: %w: no answer in time (%v)", op, store.ErrUnavailable, err)
	}
	if unavailable(err) {
		return fmt.Errorf("redis: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("redis: %s: %w", op, err)
}

// ended reports whether ctx is done or its deadline has passed. The
// client's connection deadline, set to ctx's, can fire a moment before
// ctx's own timer does; the error it gives is then the caller's deadline.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// endedErr is the error of a ctx that ended: its own, or
// context.DeadlineExceeded when its deadline passed and its timer has not
// fired yet.
func endedErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return context.DeadlineExceeded
}

// isContextErr reports whether err is a context's error.
func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// unavailable reports whether err, which is not a context's error, means
// that Redis cannot be reached or cannot serve for now, so that a later
// retry may succeed: a refused, reset, closed or timed-out connection
// (net.Error, which includes the client's own read and write timeouts), a
// client with no live connection or no node for the slot, or one of the
// unavailableCodes.
func unavailable(err error) bool {
	if isContextErr(err) {
		return false // a context's error is a net.Error too; wrap decides
	}
	if re, ok := rueidis.IsRedisErr(err); ok {
		code, _, _ := strings.Cut(re.Error(), " ")
		return slices.Contains(unavailableCodes, code)
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, rueidis.ErrClosing) || errors.Is(err, rueidis.ErrNoSlot) || errors.Is(err, rueidis.ErrNoAddr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE)
}
