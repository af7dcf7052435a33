package bench

import (
	"net"
	"os"
	"testing"
)

// TestBenchListeningPID finds this process as the owner of a listener it
// opened, and reads its CPU time, RSS and open files limit.
func TestBenchListeningPID(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			lis, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer lis.Close()
			pid, err := listeningPID(lis.Addr().(*net.TCPAddr).Port)
			if err != nil || pid != os.Getpid() {
				t.Errorf("listeningPID(%s) = %d, %v; want %d", lis.Addr(), pid, err, os.Getpid())
			}
		})
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()
	if pid, err := listeningPID(port); err == nil {
		t.Errorf("listeningPID(closed port %d) = %d, want an error", port, pid)
	}

	if ticks, err := cpuTicks(os.Getpid()); err != nil || ticks < 0 {
		t.Errorf("cpuTicks(self) = %d, %v", ticks, err)
	}
	if rss, err := rssBytes(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("rssBytes(self) = %d, %v; want positive", rss, err)
	}
	if limit, err := openFilesLimit(os.Getpid()); err != nil || limit == 0 {
		t.Errorf("openFilesLimit(self) = %d, %v", limit, err)
	}
}

func TestBenchIsLocalHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "localhost": true, "0.0.0.0": true,
		"192.0.2.1": false, "2001:db8::1": false,
	} {
		if got := isLocalHost(host); got != want {
			t.Errorf("isLocalHost(%q) = %v, want %v", host, got, want)
		}
	}
}
