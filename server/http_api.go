package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/httpapi"
)

// listenHTTPAPI binds Config.HTTPAddr and builds the HTTP API's server over
// the same cache service, topics service, key verifier, limits and metrics
// registry as the gRPC port.
func (s *Server) listenHTTPAPI(ctx context.Context, cache *grpcsvc.CacheService) error {
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("server: listen on HTTP API address %s: %w", s.cfg.HTTPAddr, err)
	}
	s.httpLis = lis
	if err := s.checkExposure("HTTP API", lis, s.httpAPIExposure()); err != nil {
		return err
	}
	var keys auth.KeyVerifier // nil, not a nil *auth.Verifier, when auth is off
	if s.keys != nil {
		keys = s.keys
	}
	handler, err := httpapi.New(httpapi.Config{
		Cache:      cache,
		Topics:     s.pubsub,
		Keys:       keys,
		Limits:     s.cfg.Limits,
		Registerer: s.metricsRegistry,
		Logger:     s.logger,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.httpAPI = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// A request or response carries at most one item (5 MB by
		// default): minutes are plenty, and a stalled peer cannot hold
		// a connection for ever.
		ReadTimeout:  2 * time.Minute,
		WriteTimeout: 2 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	if s.tlsConfig != nil {
		s.httpAPI.TLSConfig = s.tlsConfig.Clone()
	}
	return nil
}

// shutdownHTTPAPI stops the HTTP API from accepting requests and lets those
// in flight finish until ctx ends, when it closes their connections. The
// returned channel is closed once it is done; at once without an HTTP API.
func (s *Server) shutdownHTTPAPI(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if s.httpAPI == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		if err := s.httpAPI.Shutdown(ctx); err != nil {
			s.httpAPI.Close()
		}
	}()
	return done
}
