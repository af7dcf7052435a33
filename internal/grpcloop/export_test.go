//go:build linux

package grpcloop

// RunningHandlers returns how many stream handlers have not returned.
func (s *Server) RunningHandlers() int64 { return s.running.Load() }
