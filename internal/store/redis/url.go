package redis

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ParseURL reads the address of a cluster as `thaw serve --store` takes
// it: redis://[user@]host:port[,host:port...] for plain TCP, rediss://...
// for TLS (verifying each node's certificate for the name it is dialed by,
// against the system's roots). The hosts are seeds; the client discovers the
// other nodes. A password in the URL is refused: it would show in the
// process list; the caller sets Config.Password from a file. The other
// fields of the result are zero.
func ParseURL(raw string) (Config, error) {
	var cfg Config
	scheme, rest, ok := strings.Cut(raw, "://")
	switch {
	case !ok:
		return cfg, fmt.Errorf("redis: store address %q: want redis://host:port[,host:port...] or rediss://...", raw)
	case scheme == "rediss":
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	case scheme != "redis":
		return cfg, fmt.Errorf("redis: store address %q: unknown scheme %q, want redis or rediss", raw, scheme)
	}
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/?#") {
		return cfg, fmt.Errorf("redis: store address %q: want only hosts and ports after %s://", raw, scheme)
	}
	if userinfo, hosts, ok := strings.Cut(rest, "@"); ok {
		if strings.Contains(userinfo, ":") {
			return cfg, fmt.Errorf("redis: store address: put the password in a file (--store-password-file), not in the URL")
		}
		user, err := url.PathUnescape(userinfo)
		if err != nil || user == "" {
			return cfg, fmt.Errorf("redis: store address %q: malformed user name", raw)
		}
		cfg.Username, rest = user, hosts
	}
	for _, addr := range strings.Split(rest, ",") {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" || port == "" {
			return cfg, fmt.Errorf("redis: store address %q: %q is not host:port", raw, addr)
		}
		cfg.Addrs = append(cfg.Addrs, addr)
	}
	return cfg, nil
}
