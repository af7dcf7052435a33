package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// pipelineDepth is how many commands redisConn sends before it reads their
// replies: enough to keep the loading fast, few enough that the replies
// waiting in Redis's output buffer stay small.
const pipelineDepth = 256

// redisConn is one RESP2 connection to a Redis server: a command writer,
// pipelined, and a reply reader. Enough for this benchmark and no more.
type redisConn struct {
	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	pending int      // commands sent whose replies are unread
	num     []byte   // scratch for formatting numbers
	args    [][]byte // scratch for building commands
}

// redisError is an error reply.
type redisError string

func (e redisError) Error() string { return "redis: " + string(e) }

// dialRedis connects to the Redis server at addr.
func dialRedis(addr string) (*redisConn, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &redisConn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), w: bufio.NewWriterSize(conn, 64<<10)}, nil
}

// Close closes the connection.
func (rc *redisConn) Close() error { return rc.conn.Close() }

// send writes one command; every pipelineDepth commands it reads the
// replies, and it returns the first error reply among them.
func (rc *redisConn) send(args ...[]byte) error {
	rc.num = strconv.AppendInt(append(rc.num[:0], '*'), int64(len(args)), 10)
	rc.w.Write(append(rc.num, '\r', '\n'))
	for _, a := range args {
		rc.num = strconv.AppendInt(append(rc.num[:0], '$'), int64(len(a)), 10)
		rc.w.Write(append(rc.num, '\r', '\n'))
		rc.w.Write(a)
		if _, err := rc.w.WriteString("\r\n"); err != nil {
			return err
		}
	}
	rc.pending++
	if rc.pending >= pipelineDepth {
		return rc.drain()
	}
	return nil
}

// drain flushes the commands sent and reads all their replies, returning
// the first error among them.
func (rc *redisConn) drain() error {
	if err := rc.w.Flush(); err != nil {
		return err
	}
	var first error
	for ; rc.pending > 0; rc.pending-- {
		if _, err := rc.reply(); err != nil {
			var re redisError
			if !errors.As(err, &re) {
				return err
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// do sends one command, after draining earlier ones, and returns its reply.
func (rc *redisConn) do(args ...string) (any, error) {
	if err := rc.drain(); err != nil {
		return nil, err
	}
	rc.args = rc.args[:0]
	for _, a := range args {
		rc.args = append(rc.args, []byte(a))
	}
	if err := rc.send(rc.args...); err != nil {
		return nil, err
	}
	if err := rc.w.Flush(); err != nil {
		return nil, err
	}
	rc.pending--
	return rc.reply()
}

// reply reads one reply: a string for a simple or bulk string, an int64, a
// []any, nil for a null, or a redisError.
func (rc *redisConn) reply() (any, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("redis: malformed reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, redisError(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = rc.reply(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("redis: unknown reply type in %q", line)
}

// info returns the fields of INFO section.
func (rc *redisConn) info(section string) (map[string]string, error) {
	v, err := rc.do("INFO", section)
	if err != nil {
		return nil, err
	}
	text, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("redis: INFO %s: unexpected reply %T", section, v)
	}
	fields := map[string]string{}
	for line := range strings.Lines(text) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

// usedMemory returns INFO memory's used_memory once two readings 50 ms
// apart agree (or after a second), so that background work that Redis
// finishes on its own, such as rehashing the keyspace, is not half counted.
func (rc *redisConn) usedMemory() (int64, error) {
	last := int64(-1)
	for range 20 {
		fields, err := rc.info("memory")
		if err != nil {
			return 0, err
		}
		used, err := strconv.ParseInt(fields["used_memory"], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("redis: used_memory %q: %w", fields["used_memory"], err)
		}
		if used == last {
			break
		}
		last = used
		time.Sleep(50 * time.Millisecond)
	}
	return last, nil
}

// redisResult is the growth of one workload in Redis.
type redisResult struct {
	// usedMemory is the growth of INFO memory's used_memory.
	usedMemory int64
	// encoding is OBJECT ENCODING of the first key.
	encoding string
}

// measureRedis empties the server, loads w into it with the command of its
// kind and a PEXPIRE on every key, and measures used_memory's growth.
func measureRedis(rc *redisConn, w workload) (redisResult, error) {
	if _, err := rc.do("FLUSHALL", "SYNC"); err != nil {
		return redisResult{}, err
	}
	before, err := rc.usedMemory()
	if err != nil {
		return redisResult{}, err
	}
	var (
		args     [][]byte
		scores   []byte
		ttlArg   = []byte(strconv.FormatInt(ttl.Milliseconds(), 10))
		firstKey []byte
	)
	err = w.each(func(wr *write) error {
		if firstKey == nil {
			firstKey = append([]byte(nil), wr.key...)
		}
		args = args[:0]
		switch w.kind {
		case kindString:
			args = append(args, []byte("SET"), wr.key, wr.values[0])
		case kindHash:
			args = append(args, []byte("HSET"), wr.key)
			for i, v := range wr.values {
				args = append(args, wr.fields[i], v)
			}
		case kindSet:
			args = append(append(args, []byte("SADD"), wr.key), wr.values...)
		case kindList:
			args = append(append(args, []byte("RPUSH"), wr.key), wr.values...)
		case kindZSet:
			args = append(args, []byte("ZADD"), wr.key)
			// A score's bytes stay valid when a later append moves scores:
			// the old array is left as it was.
			scores = scores[:0]
			for i, v := range wr.values {
				from := len(scores)
				scores = strconv.AppendFloat(scores, wr.scores[i], 'f', -1, 64)
				args = append(args, scores[from:], v)
			}
		}
		if err := rc.send(args...); err != nil {
			return err
		}
		if wr.first {
			return rc.send([]byte("PEXPIRE"), wr.key, ttlArg)
		}
		return nil
	})
	if err == nil {
		err = rc.drain()
	}
	if err != nil {
		return redisResult{}, fmt.Errorf("redis: %v: %w", w.kind, err)
	}
	after, err := rc.usedMemory()
	if err != nil {
		return redisResult{}, err
	}
	if n, err := rc.do("DBSIZE"); err != nil || n != int64(w.keys) {
		return redisResult{}, fmt.Errorf("redis: %v: DBSIZE = %v (%v), want %d", w.kind, n, err, w.keys)
	}
	enc, err := rc.do("OBJECT", "ENCODING", string(firstKey))
	if err != nil {
		return redisResult{}, err
	}
	encoding, _ := enc.(string)
	return redisResult{usedMemory: after - before, encoding: encoding}, nil
}
