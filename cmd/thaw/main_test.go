package main

import (
	"bufio"
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// flagLine matches a flag's first line in --help output ("  -name placeholder"),
// capturing the name and the placeholder, if any.
var flagLine = regexp.MustCompile(`(?m)^  -([\w-]+)(?: (\S+))?(?:\t|$)`)

// helpVerbs returns the verbs a command's --help lists under "Verbs:", one
// indented word per line up to the next blank line.
func helpVerbs(help string) []string {
	var verbs []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(help))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "Verbs:":
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			verbs = append(verbs, strings.Fields(line)[0])
		}
	}
	return verbs
}

// TestHelpPlaceholders runs --help of every subcommand and of every verb they
// list, and fails on a flag shown with the flag package's bare placeholder
// "value": a flag.Var flag needs a back-quoted word in its usage string.
// Subcommands and verbs are found from the help itself, so new ones are
// covered without changing this test.
func TestHelpPlaceholders(t *testing.T) {
	helpOf := func(t *testing.T, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("run(%q) = %d, want 0\nstderr: %s", args, code, stderr.String())
		}
		return stdout.String() + stderr.String()
	}
	flags := 0 // flag lines seen, so that a pattern matching none fails
	checkFlags := func(t *testing.T, args []string, help string) {
		t.Helper()
		lines := flagLine.FindAllStringSubmatch(help, -1)
		flags += len(lines)
		for _, m := range lines {
			if m[2] == "value" {
				t.Errorf("run(%q) shows -%s with placeholder %q; put a back-quoted word such as `size` in its usage", args, m[1], m[2])
			}
		}
	}
	for _, c := range subcommands() {
		t.Run(c.name, func(t *testing.T) {
			args := []string{c.name, "--help"}
			help := helpOf(t, args...)
			verbs := helpVerbs(help)
			if len(verbs) == 0 {
				checkFlags(t, args, help)
				return
			}
			for _, v := range verbs {
				t.Run(v, func(t *testing.T) {
					args := []string{c.name, v, "--help"}
					checkFlags(t, args, helpOf(t, args...))
				})
			}
		})
	}
	if flags == 0 {
		t.Errorf("no --help printed a flag line matching %v", flagLine)
	}
}

// TestFlagValueChecks runs commands with flag values that the packages below
// would silently replace (a zero TTL becoming 24h) or that would crash, and
// wants a usage error naming the flag; and with the boundary values that are
// still accepted.
//
// Each case ends with a tripwire: a flag whose error is reported after the
// checked ones, so that a check that stops refusing makes the test fail
// instead of starting a server or an emulator.
func TestFlagValueChecks(t *testing.T) {
	serve := func(args ...string) []string {
		return slices.Concat([]string{"serve"}, args, []string{"--log-format", "tripwire"})
	}
	lambda := func(args ...string) []string {
		return slices.Concat([]string{"lambda"}, args, []string{"--freeze-mode", "tripwire"})
	}
	keepalive := func(args ...string) []string {
		return slices.Concat([]string{"lab", "keepalive"}, args, []string{"--clients", "tripwire"})
	}
	refused := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"serve max-ttl negative", serve("--max-ttl", "-1s"), "--max-ttl -1s: want a duration of at least 1ms"},
		{"serve max-ttl zero", serve("--max-ttl", "0"), "--max-ttl 0s: want a duration of at least 1ms"},
		{"serve max-ttl under a millisecond", serve("--max-ttl", "999us"), "--max-ttl 999µs: want"},
		{"serve max-item-size zero", serve("--max-item-size", "0"), "--max-item-size 0: want a size above 0"},
		{"serve max-caches negative", serve("--max-caches", "-1"), "--max-caches -1: want 0 (no limit)"},
		{"serve transport unknown", serve("--transport", "io_uring"), `--transport "io_uring": want grpc-go or epoll`},
		{"serve shutdown-timeout negative", serve("--shutdown-timeout", "-1s"), "--shutdown-timeout -1s: want 0"},
		{"serve max-memory overflow", serve("--max-memory", "9999999999GiB"), `"9999999999GiB" is too large`},
		{"serve max-memory overflow to 1KiB", serve("--max-memory", "18014398509481985KiB"), `"18014398509481985KiB" is too large`},
		{"serve max-item-size overflow", serve("--max-item-size", "8589934592GiB"), `"8589934592GiB" is too large`},
		{"serve topic-heartbeat-interval zero", serve("--topic-heartbeat-interval", "0"), "--topic-heartbeat-interval 0s: want a duration of at least 1ms"},
		{"serve topic-retention zero", serve("--topic-retention", "0"), "--topic-retention 0: want at least 1 item"},
		{"serve topic-retention huge", serve("--topic-retention", "1048577"), "--topic-retention 1048577: want at most 1048576 items"},
		{"serve topic-max-subscriptions zero", serve("--topic-max-subscriptions", "0"), "--topic-max-subscriptions 0: want at least 1"},
		{"serve topic-publish-rate zero", serve("--topic-publish-rate", "0"), "--topic-publish-rate 0: want at least 1 per second"},
		{"serve topic-max-message-size zero", serve("--topic-max-message-size", "0"), "--topic-max-message-size 0: want a size above 0"},
		{"serve topic-max-message-size huge", serve("--topic-max-message-size", "3GiB"), "--topic-max-message-size 3221225472: want a size below 2GiB"},
		{"lambda memory zero", lambda("--memory", "0"), "--memory 0: want a positive number of MB"},
		{"lambda timeout zero", lambda("--timeout", "0"), "--timeout 0s: want a positive duration"},
		{"lambda concurrency zero", lambda("--concurrency", "0"), "--concurrency 0: want at least 1"},
		{"lambda concurrency negative", lambda("--concurrency", "-1"), "--concurrency -1: want at least 1"},
		{"lambda idle-timeout zero", lambda("--idle-timeout", "0"), "--idle-timeout 0s: want a positive duration"},
		{"lambda memory beside config", lambda("--config", "functions.yaml", "--memory", "256"), "--config and --memory are exclusive"},
		{"lambda env beside config", lambda("--config", "functions.yaml", "--env", "K=V"), "--config and --env are exclusive"},
		{"keepalive invocations negative", keepalive("--invocations", "-1"), "--invocations -1: want 0"},
		{"keepalive invocations huge", keepalive("--invocations", "1152921504606846976"), "--invocations 1152921504606846976: want at most 10000"},
		{"keepalive seed zero", keepalive("--seed", "0"), "--seed 0: want a seed of at least 1"},
		{"keepalive memory zero", keepalive("--memory", "0"), "--memory 0: want a positive number of MB"},
		{"keepalive latency zero", keepalive("--latency", "0"), "--latency 0s: want a positive duration"},
		{"keepalive jitter negative", keepalive("--jitter", "-1ms"), "--jitter -1ms: want 0 (none)"},
		// lab context has no later usage error to serve as a tripwire.
		{"context invocations zero", []string{"lab", "context", "--invocations", "0"}, "--invocations 0: want at least 1"},
		{"context seed zero", []string{"lab", "context", "--seed", "0"}, "--seed 0: want a seed of at least 1"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("run(%q) = %d, want 2\nstderr: %s", tt.args, code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, stderr.String(), tt.want)
			}
		})
	}

	accepted := []struct {
		name     string
		args     []string
		wantCode int
		want     string // in stderr: the tripwire's error, reported after the checks
	}{
		{"serve boundaries", serve("--max-ttl", "1ms", "--max-item-size", "1", "--shutdown-timeout", "0", "--max-memory", "0", "--max-caches", "0"), 2, "--log-format"},
		{"serve largest sizes", serve("--max-memory", "8589934591GiB", "--max-item-size", "9223372036854775807"), 2, "--log-format"},
		{"serve topic boundaries", serve("--topic-heartbeat-interval", "1ms", "--topic-retention", "1", "--topic-max-subscriptions", "1",
			"--topic-publish-rate", "1", "--topic-max-message-size", "1"), 2, "--log-format"},
		{"serve largest topic values", serve("--topic-retention", "1048576", "--topic-max-message-size", "2147483647"), 2, "--log-format"},
		{"lambda boundaries", lambda("--memory", "1", "--timeout", "1ns", "--concurrency", "1", "--idle-timeout", "1ns"), 2, "--freeze-mode"},
		{"keepalive boundaries", keepalive("--invocations", "0", "--seed", "1", "--memory", "1", "--latency", "1ns", "--jitter", "0"), 1, "unknown client"},
		{"keepalive most invocations", keepalive("--invocations", "10000"), 1, "unknown client"},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d\nstderr: %s", tt.args, code, tt.wantCode, stderr.String())
			}
			// A refused value would have ended the command before the
			// tripwire's error.
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("run(%q) stderr = %q, want the tripwire's error, %q", tt.args, stderr.String(), tt.want)
			}
		})
	}
}
