// Package netstack is a container's network without root: a gVisor
// TCP/IP stack inside lodger, on a TAP device in the container's network
// namespace, that re-originates the container's traffic as the user's own
// host sockets.
//
// The flow, for one container:
//
//   - Open (network_linux.go) takes the published host ports, bound by the
//     CLI with ports.Listen so that errors come before anything exists,
//     and the resolver (package dns). The Network lives as long as the
//     container's monitor, across restarts.
//   - Attach, exec.Start's Prestart hook, runs once the container's
//     namespaces exist and before its init does anything: a thread joins
//     the container's network namespace, creates eth0 as a TAP with a
//     virtio-net header, addresses it and routes it through the gateway
//     (tap_linux.go), and comes home with the fd.
//   - newStack (stack_linux.go) puts a promiscuous, spoofing gVisor NIC on
//     that fd (link_linux.go): the stack answers for every address. TCP
//     SYNs and new UDP flows go to forwarders that dial the destination
//     from the host (policy.go decides what the container may reach) and
//     splice the two (splice_linux.go: one copy, straight between the
//     stack's buffers and the host socket). ICMP echo is taken off the
//     link before the stack and sent through an unprivileged ICMP socket
//     (icmp_linux.go).
//   - ServeConnect, exec.Start's Connect hook, serves the container's
//     connect(2) calls, which its init put under a seccomp listener: a
//     TCP connect to the outside gets a connected host socket in place of
//     its own and never touches the stack; the rest continue in the
//     kernel and go the stack's way (bypass_linux.go, bypassTo in
//     policy.go).
//   - Published ports accept on the host and dial into the stack from the
//     client's own address, so the server in the container sees the real
//     client (network_linux.go).
//   - Detach closes the stack when the container exits; Close frees the
//     host ports.
//
// tcpip.Error stays inside this package: callers get Go errors and
// net.Conn values.
package netstack
