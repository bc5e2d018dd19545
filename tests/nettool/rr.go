package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"
)

// rr is a TCP_RR-style latency test, netperf's request/response: `nettool
// rr echo PORT` answers every byte with itself, for ever; `nettool rr [-n
// N] HOST:PORT` connects once, sends one byte and waits for it N times, and
// prints "rr N mean_us P50_us P99_us": the round trip of a one-byte
// request on a warm connection, what a chatty protocol (a database's
// small queries) pays.
func rr(args []string) error {
	fs := newFlags("rr")
	n := fs.Int("n", 10000, "round trips")
	pos, err := parseArgs(fs, args, "echo PORT|HOST:PORT")
	if err == nil && pos[0] == "echo" {
		return errors.New("usage: nettool rr echo PORT")
	}
	if err != nil {
		// "echo PORT" is two positional arguments.
		pos2, err2 := parseArgs(newFlags("rr"), args, "echo", "PORT")
		if err2 != nil || pos2[0] != "echo" {
			return err
		}
		return rrEcho(pos2[1])
	}
	return rrClient(pos[0], *n)
}

func rrEcho(port string) error {
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true)
			}
			b := make([]byte, 1)
			for {
				if _, err := io.ReadFull(c, b); err != nil {
					return
				}
				if _, err := c.Write(b); err != nil {
					return
				}
			}
		}()
	}
}

func rrClient(addr string, n int) error {
	if n <= 0 {
		return errors.New("rr: -n must be positive")
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetNoDelay(true)
	b := []byte{'x'}
	// A few round trips first: the connection and both ends warm up.
	samples := make([]time.Duration, 0, n)
	for i := -100; i < n; i++ {
		start := time.Now()
		if _, err := c.Write(b); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return err
		}
		if i >= 0 {
			samples = append(samples, time.Since(start))
		}
	}
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	slices.Sort(samples)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	fmt.Printf("rr %d %.1f %.1f %.1f\n", n, us(sum/time.Duration(n)), us(samples[n/2]), us(samples[n*99/100]))
	return nil
}
