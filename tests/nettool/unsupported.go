//go:build !linux

package main

import (
	"fmt"
	"net/netip"
	"runtime"
	"time"
)

func echo(netip.Addr, time.Time) (netip.Addr, string, error) {
	return netip.Addr{}, "", fmt.Errorf("ping is not supported on %s", runtime.GOOS)
}

func garbage([]string) error {
	return fmt.Errorf("garbage is not supported on %s", runtime.GOOS)
}

func connect([]string) error {
	return fmt.Errorf("connect is not supported on %s", runtime.GOOS)
}

func probe([]string) error {
	return fmt.Errorf("probe is not supported on %s", runtime.GOOS)
}

func hostile([]string) error {
	return fmt.Errorf("hostile is not supported on %s", runtime.GOOS)
}

func seize([]string) error {
	return fmt.Errorf("seize is not supported on %s", runtime.GOOS)
}

func exchange([]string) error {
	return fmt.Errorf("exchange is not supported on %s", runtime.GOOS)
}
