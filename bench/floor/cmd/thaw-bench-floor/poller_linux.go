package main

import "github.com/thaw-dev/thaw/bench/floor/poller"

func startPoller(addr string) (server, error) { return poller.Start(addr) }
