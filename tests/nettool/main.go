// Command nettool is the network client and server the end-to-end tests run
// inside containers.
//
// Debian's busybox-static network applets crash inside a container as soon
// as they resolve a name, even a numeric one: static glibc cannot load its
// resolver modules. nettool is built with CGO_ENABLED=0 and the netgo tag,
// so it resolves with Go's own resolver from /etc/resolv.conf and
// /etc/hosts. `imagegen -nettool` packs it into lodger-test/net as
// /usr/bin/nettool.
//
// Usage:
//
//	nettool get [-timeout D] URL
//		HTTP GET; print the body. A status other than 200 is an error.
//	nettool resolve [-timeout D] NAME
//		Print each address of NAME on a line of its own.
//	nettool serve tcp|udp PORT [-n N] [-quiet] [-block [-interrupt D]] [-setuid ID]
//		Listen on every address. For each TCP connection or UDP datagram
//		print "client IP:PORT" at once and answer "hello IP:PORT". With
//		-n, exit after N clients; with -quiet print only "served N" at
//		exit (after -n clients, or on SIGTERM or SIGINT). With -block,
//		TCP is accepted by blocking accept(2) calls, and the greeting
//		names the address accept returned; -interrupt D signals the
//		accepting thread D after each accept, so that the accept then
//		waiting is interrupted and restarts. -setuid ID: once listening,
//		become user and group ID, as nginx's workers do.
//	nettool dial [-timeout D] tcp|udp HOST:PORT
//		Connect, send a line (UDP: one datagram) and print the reply.
//	nettool connect [-block] [-setopts] [-nocloexec] [-timeout D] IP:PORT
//		One TCP connect(2) by hand, non-blocking unless -block; print
//		"local IP:PORT" (getsockname) and "socket cloexec=B nonblock=B
//		nodelay=N keepalive=N keepidle=N" as the socket is after the
//		connect, send a line and print the reply. -setopts sets
//		TCP_NODELAY, SO_KEEPALIVE and TCP_KEEPIDLE=77 before connecting.
//		A failed connect prints "errno NAME" before the error.
//	nettool rr echo PORT | nettool rr [-n N] HOST:PORT
//		TCP_RR-style latency: an echo server, and a client that sends one
//		byte and waits for it N times on one connection; it prints
//		"rr N MEAN_US P50_US P99_US".
//	nettool dnsserve PORT NAME=IP
//		A nameserver over UDP that answers NAME's A query with IP and
//		NXDOMAIN for everything else, printing "query NAME." for each.
//	nettool ifaces
//		Print each interface ("iface NAME mtu N flags F"), its addresses
//		("addr NAME PREFIX") and the routes of /proc/net/route and
//		/proc/net/ipv6_route ("route default via GW dev NAME",
//		"route6 PREFIX dev NAME").
//	nettool ping [-timeout D] HOST
//		One ICMP echo, through an unprivileged ICMP datagram socket or,
//		where ping_group_range forbids that, a raw socket; print
//		"reply from IP".
//	nettool garbage [-seed S] IFACE N
//		Send N malformed frames through an AF_PACKET socket on IFACE:
//		truncated and inconsistent IPv4, IPv6, ARP, TCP, UDP, ICMP and
//		DNS headers, bogus protocols, fragments, tiny, MTU-sized and
//		random frames. It checks that the stack at the other end survives
//		hostile input; it needs CAP_NET_RAW.
//
//	nettool probe [-accept PORT] [-bindport N -hold D] [-hostif NAMES] [-only A,B] [-sendfd PATH|-recvfd PATH] FIRST SECRET
//		The attacker of issue 12: take a TCP socket the way a container
//		gets one from lodger (connect to FIRST, or accept on PORT) and
//		try to re-aim it at SECRET (disconnect and reconnect, dup'd,
//		v4-mapped, MSG_FASTOPEN), bind it to a host interface, list
//		interfaces through it, bind and listen on it, open an io_uring;
//		print "ATTACK reached|refused|info ..." for each. -sendfd hands
//		the socket to another process over a unix socket; -recvfd
//		takes it there and reconnects it.
//	nettool hostile [-listeners N] [-threads N] [-flipped N] [-connect IP:PORT -connects N] [-after D] PORT
//		The attacker of issue 12's third finding: serve hello on PORT
//		(as serve -quiet) and, after D, hold -threads blocking accepts
//		on -listeners listening sockets and accept on -flipped more
//		whose O_NONBLOCK another thread flips in a loop; -connects
//		threads connect, blocking, to -connect in a loop; print
//		"attacking", then "holding ...", then "accepted N" every 5s.
//	nettool seize [-n N] [-want EXE] [-timeout D]
//		The attacker of CVE-2016-9962: for each of N processes created
//		next in its pid namespace (lodger exec's), print "ready PID",
//		stop it as soon as it exists (it predicts the pid), continue it
//		and open its /proc/PID/exe as fast as it can until that is EXE
//		(default /bin/busybox); print "round I caught TARGET" when it
//		opened anything else, otherwise "round I missed refused N",
//		"round I gone refused N" (it ended before it was seen as EXE)
//		or "round I unseen"; at the end "done rounds N caught M".
//	nettool exchange [-count FILE] A B
//		The racer of issue 12's tmpfs finding: swap A and B (a directory
//		and a symlink) with renameat2(RENAME_EXCHANGE) in a loop, for
//		ever; with -count write the number of swaps to FILE every 100 ms.
//
// Flags may come before, between or after the arguments. Every command
// exits 0 on success and 1 with a one-line error on stderr otherwise, and
// every network operation has a deadline.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "nettool:", oneLine(err))
		os.Exit(1)
	}
}

var commands = map[string]func([]string) error{
	"get":      get,
	"resolve":  resolve,
	"serve":    serve,
	"dial":     dial,
	"connect":  connect,
	"ifaces":   ifaces,
	"ping":     ping,
	"garbage":  garbage,
	"probe":    probe,
	"hostile":  hostile,
	"seize":    seize,
	"exchange": exchange,
	"rr":       rr,
	"dnsserve": dnsServe,
}

const usage = "usage: nettool get|resolve|serve|dial|connect|ifaces|ping|garbage|probe|hostile|seize|exchange|rr|dnsserve ARGS..."

func run(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q; %s", args[0], usage)
	}
	return cmd(args[1:])
}

// oneLine keeps an error on the one line the tests read.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// newFlags returns a flag set that reports errors only through Parse.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseArgs parses fs's flags wherever they stand among args, as in
// `serve tcp 8080 -n 3`, and returns the positional arguments, of which
// there must be exactly as many as names.
func parseArgs(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %w", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != len(names) {
		return nil, fmt.Errorf("usage: nettool %s [flags] %s", fs.Name(), strings.Join(names, " "))
	}
	return pos, nil
}
