//go:build !linux

package main

import "errors"

func startPoller(string) (server, error) {
	return nil, errors.New("--idle-poller needs Linux (epoll)")
}
