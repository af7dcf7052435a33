package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/thaw-dev/thaw/internal/auth"
)

// setUpKeys builds the key verifier and revocation list that Config asks for.
func (s *Server) setUpKeys() error {
	cfg := s.cfg
	if len(cfg.AuthSecret) == 0 {
		if cfg.RevokedKeysFile != "" {
			return errors.New("server: a revocation list needs auth: set AuthSecret (--auth-secret-file)")
		}
		return nil
	}
	signer, err := auth.NewSigner(cfg.AuthSecret)
	if err != nil {
		return fmt.Errorf("server: auth: %w", err)
	}
	if cfg.RevokedKeysFile != "" {
		if s.revoked, err = auth.OpenRevocationList(cfg.RevokedKeysFile); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	s.keys = auth.NewVerifier(signer, s.revoked)
	return nil
}

// ReloadRevokedKeys re-reads the revocation list now, whether or not the file
// looks changed (`thaw serve` calls it on SIGHUP). On error the list in force
// is kept. Without a revocation list it does nothing.
func (s *Server) ReloadRevokedKeys() error {
	if s.revoked == nil {
		return nil
	}
	return s.reloadRevokedKeys(true)
}

func (s *Server) reloadRevokedKeys(force bool) error {
	reloaded, err := s.revoked.Reload(force)
	if err != nil {
		s.logger.Error("revocation list not reloaded; the previous one stays in force", "err", err)
		return err
	}
	if reloaded {
		s.logger.Info("revocation list loaded", "file", s.revoked.Path(), "revoked_keys", s.revoked.Len())
	}
	return nil
}

// watchRevokedKeys re-reads the revocation list whenever the file changes,
// checking every Config.RevokedKeysPoll, until stopRevokedKeysWatch.
func (s *Server) watchRevokedKeys() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWatch, s.watchDone = cancel, make(chan struct{})
	go func() {
		defer close(s.watchDone)
		t := time.NewTicker(s.cfg.RevokedKeysPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.reloadRevokedKeys(false) // logged inside
			}
		}
	}()
}

// stopRevokedKeysWatch stops the watcher, if any, and waits for it.
func (s *Server) stopRevokedKeysWatch() {
	if s.stopWatch != nil {
		s.stopWatch()
		<-s.watchDone
		s.stopWatch = nil
	}
}

// revokedCount is how many keys are revoked, for the start-up log.
func (s *Server) revokedCount() int {
	if s.revoked == nil {
		return 0
	}
	return s.revoked.Len()
}

// serviceExposure says what an exposed service port gives away.
func (s *Server) serviceExposure() []string {
	var risks []string
	if s.cfg.TLSCertFile == "" {
		risks = append(risks, "without TLS, so API keys and cache data cross the network in clear text")
	}
	if s.keys == nil {
		what := "without auth, so anyone who can reach it can read, write, flush and delete every cache"
		if s.cfg.EnableTestAdmin {
			what += " and inject delays and errors into other callers' requests"
		}
		risks = append(risks, what)
	}
	return risks
}

// httpAPIExposure says what an exposed HTTP API port gives away: it serves
// with the service's TLS and auth, so the same two risks apply.
func (s *Server) httpAPIExposure() []string {
	var risks []string
	if s.tlsConfig == nil {
		risks = append(risks, "without TLS, so API keys and cache data cross the network in clear text")
	}
	if s.keys == nil {
		risks = append(risks, "without auth, so anyone who can reach it can read, write and delete the items of every cache and publish to every topic")
	}
	return risks
}

// adminExposure says what an exposed test-admin port gives away; it is
// always plain HTTP.
func (s *Server) adminExposure() []string {
	if s.keys == nil {
		return []string{"without auth, so anyone who can reach it can block the service port for every caller"}
	}
	return []string{"over plain HTTP, so the superuser key sent to /block and /unblock crosses the network in clear text"}
}

// checkExposure refuses, or with InsecureBind warns about, a listener that
// other hosts can reach while risks apply to it.
func (s *Server) checkExposure(port string, lis net.Listener, risks []string) error {
	if len(risks) == 0 || isLoopback(lis.Addr()) {
		return nil
	}
	exposure := fmt.Sprintf("%s port %s is reachable from other hosts %s", port, lis.Addr(), strings.Join(risks, "; and "))
	if !s.cfg.InsecureBind {
		return fmt.Errorf("%s: %w", exposure, ErrInsecureBind)
	}
	s.logger.Warn("insecure bind: "+exposure, "port", port, "addr", lis.Addr().String())
	return nil
}

// isLoopback reports whether a bound address only accepts connections from
// this host. The unspecified address (0.0.0.0, ::) accepts them from all.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
