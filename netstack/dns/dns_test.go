package dns

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/net/dns/dnsmessage"
)

const testHosts = `# comment
127.0.0.1 localhost
10.0.0.5  myhost myalias.example.  # trailing comment
10.0.0.6  myhost
fd00::5   dual
10.0.0.7  Dual
fe80::1%lo v6only
bad-address ignored
`

// upstream is a fake nameserver on 127.0.0.1, on one port for UDP and TCP.
type upstream struct {
	addr    netip.AddrPort
	queries atomic.Int32
	// handle returns the replies to send for a query, in order.
	handle func(q []byte, tcp bool) [][]byte
}

func newUpstream(t *testing.T, handle func(q []byte, tcp bool) [][]byte) *upstream {
	t.Helper()
	u := &upstream{handle: handle}
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	// The UDP port picked may be taken for TCP; try a few.
	for range 10 {
		pc, err = net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp4", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close(); ln.Close() })
	u.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	go func() {
		buf := make([]byte, maxMessage)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			u.queries.Add(1)
			for _, resp := range u.handle(append([]byte(nil), buf[:n]...), false) {
				_, _ = pc.WriteTo(resp, from) // the client times out on a lost reply
			}
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				q, err := readFramed(c)
				if err != nil {
					return
				}
				u.queries.Add(1)
				for _, resp := range u.handle(q, true) {
					_ = writeFramed(c, resp) // the client times out on a lost reply
				}
			}()
		}
	}()
	return u
}

func readFramed(c net.Conn) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err := io.ReadFull(c, b)
	return b, err
}

func writeFramed(c net.Conn, b []byte) error {
	_, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
	return err
}

// answerA replies to query with one A record, ip, and header changes.
func answerA(t *testing.T, query []byte, ip string, edit func(*dnsmessage.Header)) []byte {
	var m dnsmessage.Message
	if err := m.Unpack(query); err != nil {
		t.Errorf("upstream: unpack query: %v", err)
		return nil
	}
	m.Response = true
	m.RecursionAvailable = true
	if ip != "" {
		m.Answers = []dnsmessage.Resource{{
			Header: dnsmessage.ResourceHeader{Name: m.Questions[0].Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
			Body:   &dnsmessage.AResource{A: netip.MustParseAddr(ip).As4()},
		}}
	}
	if edit != nil {
		edit(&m.Header)
	}
	b, err := m.Pack()
	if err != nil {
		t.Errorf("upstream: pack reply: %v", err)
	}
	return b
}

func query(t testing.TB, id uint16, name string, typ dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// result is the part of a reply tests compare.
type result struct {
	ID            uint16
	RCode         dnsmessage.RCode
	Authoritative bool
	Truncated     bool
	Answers       []string
}

func parse(t *testing.T, msg []byte) result {
	t.Helper()
	var m dnsmessage.Message
	if err := m.Unpack(msg); err != nil {
		t.Fatalf("unpack reply: %v", err)
	}
	if !m.Response {
		t.Errorf("reply %d is not a response", m.ID)
	}
	r := result{ID: m.ID, RCode: m.RCode, Authoritative: m.Authoritative, Truncated: m.Truncated}
	for _, a := range m.Answers {
		switch b := a.Body.(type) {
		case *dnsmessage.AResource:
			r.Answers = append(r.Answers, "A "+netip.AddrFrom4(b.A).String())
		case *dnsmessage.AAAAResource:
			r.Answers = append(r.Answers, "AAAA "+netip.AddrFrom16(b.AAAA).String())
		default:
			r.Answers = append(r.Answers, a.Header.Type.String())
		}
	}
	return r
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// deadServer is an address where nothing listens, so queries fail fast.
func deadServer(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	return a
}

// silentServer reads queries and never answers.
func silentServer(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func newResolver(t *testing.T, c Config) *Resolver {
	t.Helper()
	dir := t.TempDir()
	if c.Hosts == "" {
		c.Hosts = writeFile(t, dir, "hosts", testHosts)
	}
	if c.ResolvConf == "" {
		c.ResolvConf = writeFile(t, dir, "resolv.conf", "nameserver 192.0.2.53\nsearch corp.example home.arpa\n")
	}
	if c.Timeout == 0 {
		c.Timeout = 500 * time.Millisecond
	}
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHosts(t *testing.T) {
	u := newUpstream(t, func(q []byte, tcp bool) [][]byte { return [][]byte{answerA(t, q, "192.0.2.1", nil)} })
	r := newResolver(t, Config{Servers: []netip.AddrPort{u.addr}})
	tests := []struct {
		name string
		typ  dnsmessage.Type
		want []string
	}{
		{"myhost.", dnsmessage.TypeA, []string{"A 10.0.0.5", "A 10.0.0.6"}},
		{"MyHost.", dnsmessage.TypeA, []string{"A 10.0.0.5", "A 10.0.0.6"}},
		{"myalias.example.", dnsmessage.TypeA, []string{"A 10.0.0.5"}},
		{"MYALIAS.EXAMPLE.", dnsmessage.TypeA, []string{"A 10.0.0.5"}},
		{"myhost.", dnsmessage.TypeAAAA, nil},
		{"dual.", dnsmessage.TypeAAAA, []string{"AAAA fd00::5"}},
		{"dual.", dnsmessage.TypeALL, []string{"A 10.0.0.7", "AAAA fd00::5"}},
		{"v6only.", dnsmessage.TypeA, nil},
		{"v6only.", dnsmessage.TypeAAAA, []string{"AAAA fe80::1"}},
	}
	for i, tt := range tests {
		t.Run(tt.name+tt.typ.String(), func(t *testing.T) {
			id := uint16(100 + i)
			resp, err := r.Answer(t.Context(), query(t, id, tt.name, tt.typ), false)
			if err != nil {
				t.Fatal(err)
			}
			want := result{ID: id, RCode: dnsmessage.RCodeSuccess, Authoritative: true, Answers: tt.want}
			if diff := cmp.Diff(want, parse(t, resp)); diff != "" {
				t.Errorf("Answer (-want +got):\n%s", diff)
			}
		})
	}
	if n := u.queries.Load(); n != 0 {
		t.Errorf("upstream got %d queries for names in the hosts file, want 0", n)
	}
}

// TestHostsTruncated checks that a hosts answer too big for UDP is sent
// truncated, and whole over TCP.
func TestHostsTruncated(t *testing.T) {
	var hosts strings.Builder
	for i := range 40 {
		fmt.Fprintf(&hosts, "10.1.0.%d many\n", i+1)
	}
	r := newResolver(t, Config{Hosts: writeFile(t, t.TempDir(), "hosts", hosts.String()), Servers: []netip.AddrPort{deadServer(t)}})
	resp, err := r.Answer(t.Context(), query(t, 1, "many.", dnsmessage.TypeA), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := parse(t, resp); !got.Truncated || len(got.Answers) != 0 {
		t.Errorf("UDP Answer = %+v, want truncated and no answers", got)
	}
	resp, err = r.Answer(t.Context(), query(t, 1, "many.", dnsmessage.TypeA), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := parse(t, resp); got.Truncated || len(got.Answers) != 40 {
		t.Errorf("TCP Answer = %+v, want 40 answers", got)
	}
}

func TestForward(t *testing.T) {
	u := newUpstream(t, func(q []byte, tcp bool) [][]byte {
		ip := "192.0.2.1"
		if tcp {
			ip = "192.0.2.2"
		}
		return [][]byte{answerA(t, q, ip, nil)}
	})
	r := newResolver(t, Config{Servers: []netip.AddrPort{u.addr}})
	tests := []struct {
		name string
		typ  dnsmessage.Type
		tcp  bool
		want []string
	}{
		{"example.com.", dnsmessage.TypeA, false, []string{"A 192.0.2.1"}},
		{"example.com.", dnsmessage.TypeA, true, []string{"A 192.0.2.2"}},
		// Only addresses come from the hosts file.
		{"myhost.", dnsmessage.TypeMX, false, []string{"A 192.0.2.1"}},
	}
	for i, tt := range tests {
		t.Run(tt.name+tt.typ.String(), func(t *testing.T) {
			id := uint16(200 + i)
			resp, err := r.Answer(t.Context(), query(t, id, tt.name, tt.typ), tt.tcp)
			if err != nil {
				t.Fatal(err)
			}
			want := result{ID: id, RCode: dnsmessage.RCodeSuccess, Answers: tt.want}
			if diff := cmp.Diff(want, parse(t, resp)); diff != "" {
				t.Errorf("Answer (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTruncated checks that a truncated UDP reply reaches the client, and
// that its retry over TCP is forwarded over TCP.
func TestTruncated(t *testing.T) {
	u := newUpstream(t, func(q []byte, tcp bool) [][]byte {
		if !tcp {
			return [][]byte{answerA(t, q, "", func(h *dnsmessage.Header) { h.Truncated = true })}
		}
		return [][]byte{answerA(t, q, "192.0.2.9", nil)}
	})
	r := newResolver(t, Config{Servers: []netip.AddrPort{u.addr}})
	resp, err := r.Answer(t.Context(), query(t, 7, "big.example.", dnsmessage.TypeA), false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(result{ID: 7, Truncated: true}, parse(t, resp)); diff != "" {
		t.Errorf("UDP Answer (-want +got):\n%s", diff)
	}
	resp, err = r.Answer(t.Context(), query(t, 8, "big.example.", dnsmessage.TypeA), true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(result{ID: 8, Answers: []string{"A 192.0.2.9"}}, parse(t, resp)); diff != "" {
		t.Errorf("TCP Answer (-want +got):\n%s", diff)
	}
}

func TestIDMismatchIgnored(t *testing.T) {
	u := newUpstream(t, func(q []byte, tcp bool) [][]byte {
		return [][]byte{
			answerA(t, q, "192.0.2.66", func(h *dnsmessage.Header) { h.ID++ }),
			answerA(t, q, "192.0.2.1", nil),
		}
	})
	r := newResolver(t, Config{Servers: []netip.AddrPort{u.addr}})
	resp, err := r.Answer(t.Context(), query(t, 9, "example.com.", dnsmessage.TypeA), false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(result{ID: 9, Answers: []string{"A 192.0.2.1"}}, parse(t, resp)); diff != "" {
		t.Errorf("Answer (-want +got):\n%s", diff)
	}
	// Over TCP a reply to another query fails the server.
	resp, err = r.Answer(t.Context(), query(t, 10, "example.com.", dnsmessage.TypeA), true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(result{ID: 10, RCode: dnsmessage.RCodeServerFailure}, parse(t, resp)); diff != "" {
		t.Errorf("TCP Answer (-want +got):\n%s", diff)
	}
}

func TestUpstreamFailure(t *testing.T) {
	good := newUpstream(t, func(q []byte, tcp bool) [][]byte { return [][]byte{answerA(t, q, "192.0.2.1", nil)} })
	servfail := newUpstream(t, func(q []byte, tcp bool) [][]byte {
		return [][]byte{answerA(t, q, "", func(h *dnsmessage.Header) { h.RCode = dnsmessage.RCodeServerFailure })}
	})
	tests := []struct {
		name    string
		servers []netip.AddrPort
		want    result
	}{
		{"dead", []netip.AddrPort{deadServer(t)}, result{ID: 1, RCode: dnsmessage.RCodeServerFailure}},
		{"silent", []netip.AddrPort{silentServer(t)}, result{ID: 1, RCode: dnsmessage.RCodeServerFailure}},
		{"silent then good", []netip.AddrPort{silentServer(t), good.addr}, result{ID: 1, Answers: []string{"A 192.0.2.1"}}},
		{"servfail then good", []netip.AddrPort{servfail.addr, good.addr}, result{ID: 1, Answers: []string{"A 192.0.2.1"}}},
		{"servfail then dead", []netip.AddrPort{servfail.addr, deadServer(t)}, result{ID: 1, RCode: dnsmessage.RCodeServerFailure}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newResolver(t, Config{Servers: tt.servers, Timeout: 100 * time.Millisecond})
			resp, err := r.Answer(t.Context(), query(t, 1, "example.com.", dnsmessage.TypeA), false)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, parse(t, resp)); diff != "" {
				t.Errorf("Answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	r := newResolver(t, Config{Servers: []netip.AddrPort{silentServer(t)}, Timeout: time.Minute})
	// A cancel, not a deadline: a read timing out at the deadline may beat
	// the context's timer and fairly end in SERVFAIL.
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	if resp, err := r.Answer(ctx, query(t, 1, "example.com.", dnsmessage.TypeA), false); err == nil {
		t.Errorf("Answer = %+v after its context ended, want an error", parse(t, resp))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Answer took %v after its context ended", d)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	u := newUpstream(t, func(q []byte, tcp bool) [][]byte { return [][]byte{answerA(t, q, "192.0.2.1", nil)} })
	r := newResolver(t, Config{Servers: []netip.AddrPort{u.addr}})
	for range cap(r.sem) {
		r.sem <- struct{}{}
	}
	resp, err := r.Answer(t.Context(), query(t, 3, "example.com.", dnsmessage.TypeA), false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(result{ID: 3, RCode: dnsmessage.RCodeServerFailure}, parse(t, resp)); diff != "" {
		t.Errorf("Answer past the limit (-want +got):\n%s", diff)
	}
	// Local answers need no upstream slot.
	resp, err = r.Answer(t.Context(), query(t, 4, "myhost.", dnsmessage.TypeA), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := parse(t, resp); got.RCode != dnsmessage.RCodeSuccess || len(got.Answers) != 2 {
		t.Errorf("hosts Answer past the limit = %+v, want 2 answers", got)
	}
}

func TestReload(t *testing.T) {
	u := newUpstream(t, func(q []byte, tcp bool) [][]byte { return [][]byte{answerA(t, q, "192.0.2.1", nil)} })
	dir := t.TempDir()
	hosts := writeFile(t, dir, "hosts", "10.0.0.5 myhost\n")
	resolv := writeFile(t, dir, "resolv.conf", "nameserver "+deadServer(t).Addr().String()+"\nsearch old.example\n")
	r := newResolver(t, Config{Hosts: hosts, ResolvConf: resolv, Timeout: 100 * time.Millisecond})

	ask := func(name string) result {
		t.Helper()
		resp, err := r.Answer(t.Context(), query(t, 1, name, dnsmessage.TypeA), false)
		if err != nil {
			t.Fatal(err)
		}
		return parse(t, resp)
	}
	if got := ask("myhost."); !cmp.Equal(got.Answers, []string{"A 10.0.0.5"}) {
		t.Fatalf("before the change: %+v", got)
	}

	writeFile(t, dir, "hosts", "10.0.0.6 myhost\n")
	// resolv.conf can only name port 53, so the new upstream listens
	// there when the test may bind it, and the test checks the parse.
	writeFile(t, dir, "resolv.conf", "nameserver 127.0.0.1\nsearch new.example\n")
	future := time.Now().Add(time.Hour)
	for _, p := range []string{hosts, resolv} {
		if err := os.Chtimes(p, future, future); err != nil {
			t.Fatal(err)
		}
	}
	// Within checkEvery the old contents stand.
	if got := ask("myhost."); !cmp.Equal(got.Answers, []string{"A 10.0.0.5"}) {
		t.Errorf("within the check interval: %+v, want the old answer", got)
	}
	r.mu.Lock()
	r.lastCheck = time.Time{}
	r.mu.Unlock()
	if got := ask("myhost."); !cmp.Equal(got.Answers, []string{"A 10.0.0.6"}) {
		t.Errorf("after the change: %+v, want A 10.0.0.6", got)
	}
	if diff := cmp.Diff([]string{"new.example"}, r.Search()); diff != "" {
		t.Errorf("Search (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]netip.AddrPort{defaultServer}, r.upstreams(), cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
		t.Errorf("upstreams (-want +got):\n%s", diff)
	}

	// A deleted hosts file is empty; the name goes upstream.
	r.cfg.Servers = []netip.AddrPort{u.addr}
	if err := os.Remove(hosts); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.lastCheck = time.Time{}
	r.resolvStamp = stamp{}
	r.mu.Unlock()
	if got := ask("myhost."); !cmp.Equal(got.Answers, []string{"A 192.0.2.1"}) {
		t.Errorf("after removing hosts: %+v, want the upstream's answer", got)
	}
}

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		servers []string
		search  []string
	}{
		{"empty", "", nil, nil},
		{"systemd stub", "# managed\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n", []string{"127.0.0.53:53"}, []string{"lan"}},
		{"v6 and zone", "nameserver ::1\nnameserver fe80::1%eth0\n", []string{"[::1]:53", "[fe80::1%eth0]:53"}, nil},
		{"glibc keeps three", "nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n",
			[]string{"10.0.0.1:53", "10.0.0.2:53", "10.0.0.3:53"}, nil},
		{"bad and comments", "nameserver nope\n; nameserver 10.0.0.9\n#search x\nnameserver 10.0.0.1\n", []string{"10.0.0.1:53"}, nil},
		{"last search wins", "search a.example b.example.\ndomain c.example\nsearch d.example\n", nil, []string{"d.example"}},
		{"domain last", "search a.example\ndomain c.example\n", nil, []string{"c.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseResolvConf([]byte(tt.in))
			var servers []string
			for _, s := range c.servers {
				servers = append(servers, s.String())
			}
			if diff := cmp.Diff(tt.servers, servers); diff != "" {
				t.Errorf("servers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.search, c.search); diff != "" {
				t.Errorf("search (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoNameservers(t *testing.T) {
	dir := t.TempDir()
	r := newResolver(t, Config{ResolvConf: filepath.Join(dir, "missing"), Hosts: filepath.Join(dir, "missing")})
	if diff := cmp.Diff([]netip.AddrPort{defaultServer}, r.upstreams(), cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
		t.Errorf("upstreams (-want +got):\n%s", diff)
	}
	if got := r.Search(); len(got) != 0 {
		t.Errorf("Search = %q, want none", got)
	}
}

func TestMalformed(t *testing.T) {
	r := newResolver(t, Config{Servers: []netip.AddrPort{deadServer(t)}})
	twoQuestions := func() []byte {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 5})
		_ = b.StartQuestions() // fails only after a section was added
		for range 2 {
			_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("a.example."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		}
		msg, _ := b.Finish()
		return msg
	}()
	notify := query(t, 5, "myhost.", dnsmessage.TypeA)
	notify[2] |= 4 << 3 // opcode NOTIFY
	tests := []struct {
		name  string
		query []byte
		want  dnsmessage.RCode
	}{
		{"header only", []byte{0, 5, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, dnsmessage.RCodeFormatError},
		{"no question", []byte{0, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, dnsmessage.RCodeFormatError},
		{"cut question", query(t, 5, "myhost.", dnsmessage.TypeA)[:16], dnsmessage.RCodeFormatError},
		{"two questions", twoQuestions, dnsmessage.RCodeFormatError},
		{"opcode", notify, dnsmessage.RCodeNotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := r.Answer(t.Context(), tt.query, false)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(result{ID: 5, RCode: tt.want}, parse(t, resp)); diff != "" {
				t.Errorf("Answer (-want +got):\n%s", diff)
			}
		})
	}
	response := query(t, 5, "myhost.", dnsmessage.TypeA)
	response[2] |= 0x80
	for name, q := range map[string][]byte{
		"empty":     nil,
		"short":     {0, 5, 1},
		"response":  response,
		"too large": make([]byte, maxMessage+1),
	} {
		t.Run(name, func(t *testing.T) {
			if resp, err := r.Answer(t.Context(), q, false); err == nil {
				t.Errorf("Answer = %x, want an error", resp)
			}
		})
	}
}

func TestServe(t *testing.T) {
	r := newResolver(t, Config{Servers: []netip.AddrPort{deadServer(t)}})
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udpDone, tcpDone := make(chan error, 1), make(chan error, 1)
	go func() { udpDone <- r.ServeUDP(pc) }()
	go func() { tcpDone <- r.ServeTCP(ln) }()

	c, err := net.Dial("udp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(query(t, 11, "myhost.", dnsmessage.TypeA)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := result{ID: 11, Authoritative: true, Answers: []string{"A 10.0.0.5", "A 10.0.0.6"}}
	if diff := cmp.Diff(want, parse(t, buf[:n])); diff != "" {
		t.Errorf("UDP reply (-want +got):\n%s", diff)
	}

	tc, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := tc.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// Two queries on one connection.
	for id := uint16(12); id < 14; id++ {
		if err := writeFramed(tc, query(t, id, "myhost.", dnsmessage.TypeA)); err != nil {
			t.Fatal(err)
		}
		resp, err := readFramed(tc)
		if err != nil {
			t.Fatal(err)
		}
		want.ID = id
		if diff := cmp.Diff(want, parse(t, resp)); diff != "" {
			t.Errorf("TCP reply (-want +got):\n%s", diff)
		}
	}

	pc.Close()
	ln.Close()
	if err := <-udpDone; err != nil {
		t.Errorf("ServeUDP = %v after close, want nil", err)
	}
	if err := <-tcpDone; err != nil {
		t.Errorf("ServeTCP = %v after close, want nil", err)
	}
	// ServeTCP closed the open connection.
	if _, err := readFramed(tc); err == nil {
		t.Error("TCP connection still open after ServeTCP returned")
	}
}

type fakeNames map[string]netip.Addr

func (f fakeNames) Lookup(name string, _ netip.Addr) (v4, v6 []netip.Addr, ok bool) {
	a, ok := f[name]
	if !ok {
		return nil, nil, false
	}
	if a.Is4() {
		return []netip.Addr{a}, nil, true
	}
	return nil, []netip.Addr{a}, true
}

func (f fakeNames) Reverse(a netip.Addr) (string, bool) {
	for n, b := range f {
		if a == b {
			return n, true
		}
	}
	return "", false
}

func TestNames(t *testing.T) {
	r := newResolver(t, Config{Servers: []netip.AddrPort{deadServer(t)}, Names: fakeNames{
		"web": netip.MustParseAddr("10.89.1.2"), "db6": netip.MustParseAddr("fd4c:6f64:6765:1::2"),
	}})
	got := parse(t, answer(t, r, query(t, 1, "WEB.", dnsmessage.TypeA)))
	if got.RCode != dnsmessage.RCodeSuccess || len(got.Answers) != 1 || got.Answers[0] != "A 10.89.1.2" {
		t.Errorf("web A: %+v", got)
	}
	for _, tc := range []struct{ name, want string }{
		{"2.1.89.10.in-addr.arpa.", "web."},
		{"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.5.6.7.6.4.6.f.6.c.4.d.f.ip6.arpa.", "db6."},
	} {
		msg := answer(t, r, query(t, 2, tc.name, dnsmessage.TypePTR))
		var p dnsmessage.Parser
		if _, err := p.Start(msg); err != nil {
			t.Fatal(err)
		}
		_ = p.SkipAllQuestions()
		ans, err := p.AllAnswers()
		if err != nil || len(ans) != 1 || ans[0].Body.(*dnsmessage.PTRResource).PTR.String() != tc.want {
			t.Errorf("PTR %s: %v %v, want %s", tc.name, ans, err, tc.want)
		}
	}
}

func answer(t *testing.T, r *Resolver, q []byte) []byte {
	t.Helper()
	msg, err := r.Answer(context.Background(), q, false)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// upstreamNames is fakeNames whose client at from has its own servers.
type upstreamNames struct {
	fakeNames
	from    netip.Addr
	servers []netip.AddrPort
}

func (u upstreamNames) Upstreams(from netip.Addr) []netip.AddrPort {
	if from == u.from {
		return u.servers
	}
	return nil
}

// A client with servers of its own (a container's --dns) gets its names
// from them, not from the host's servers or hosts file, dialled with
// Config.Dial; others, and Names' own names, are answered as before.
func TestUpstreams(t *testing.T) {
	host := newUpstream(t, func(q []byte, tcp bool) [][]byte { return [][]byte{answerA(t, q, "192.0.2.1", nil)} })
	own := newUpstream(t, func(q []byte, tcp bool) [][]byte { return [][]byte{answerA(t, q, "198.51.100.9", nil)} })
	client := netip.MustParseAddr("10.89.1.7")
	var dialled atomic.Int32
	r := newResolver(t, Config{
		Servers: []netip.AddrPort{host.addr},
		Names:   upstreamNames{fakeNames: fakeNames{"web": netip.MustParseAddr("10.89.1.2")}, from: client, servers: []netip.AddrPort{own.addr}},
		Dial: func(ctx context.Context, network string, server netip.AddrPort) (net.Conn, error) {
			dialled.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, server.String())
		},
	})
	ask := func(from netip.Addr, name string) []string {
		t.Helper()
		msg, err := r.AnswerFrom(t.Context(), query(t, 9, name, dnsmessage.TypeA), false, from)
		if err != nil {
			t.Fatal(err)
		}
		return parse(t, msg).Answers
	}
	for _, tc := range []struct {
		from netip.Addr
		name string
		want []string
	}{
		{client, "example.com.", []string{"A 198.51.100.9"}},
		{client, "myhost.", []string{"A 198.51.100.9"}}, // the host's hosts file is the host's resolution
		{client, "web.", []string{"A 10.89.1.2"}},
		{netip.MustParseAddr("10.89.1.8"), "example.com.", []string{"A 192.0.2.1"}},
	} {
		if diff := cmp.Diff(tc.want, ask(tc.from, tc.name)); diff != "" {
			t.Errorf("%s from %s (-want +got):\n%s", tc.name, tc.from, diff)
		}
	}
	if n := dialled.Load(); n != 2 {
		t.Errorf("Config.Dial used %d times, want 2 (the client's own server only)", n)
	}
}

// A resolver whose Names name a client's own servers but that was given
// no Dial (no policy to reach them under) asks none of them from the
// host: the client gets SERVFAIL, and the server sees no query.
func TestUpstreamsWithoutDialFailClosed(t *testing.T) {
	var asked atomic.Int32
	own := newUpstream(t, func(q []byte, tcp bool) [][]byte {
		asked.Add(1)
		return [][]byte{answerA(t, q, "198.51.100.9", nil)}
	})
	client := netip.MustParseAddr("10.89.1.7")
	r := newResolver(t, Config{
		Names: upstreamNames{fakeNames: fakeNames{}, from: client, servers: []netip.AddrPort{own.addr}},
	})
	msg, err := r.AnswerFrom(t.Context(), query(t, 9, "example.com.", dnsmessage.TypeA), false, client)
	if err != nil {
		t.Fatal(err)
	}
	if got := parse(t, msg); got.RCode != dnsmessage.RCodeServerFailure || len(got.Answers) != 0 {
		t.Errorf("reply %+v, want SERVFAIL and no answer", got)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the client's server was asked %d times from the host, want 0", n)
	}
}

// internalNames is fakeNames on an --internal network: only the client
// at open may have names looked up on the host.
type internalNames struct {
	fakeNames
	open netip.Addr
}

func (n internalNames) HostForwarding(from netip.Addr) bool { return from == n.open }

// A client on internal networks alone gets its network's names, and
// SERVFAIL for every other name, from the hosts file or the host's
// servers, which see no query (CVE-2024-29018: DNS as a way out).
func TestNoHostForwardingForInternal(t *testing.T) {
	var asked atomic.Int32
	host := newUpstream(t, func(q []byte, tcp bool) [][]byte {
		asked.Add(1)
		return [][]byte{answerA(t, q, "192.0.2.1", nil)}
	})
	shut, open := netip.MustParseAddr("10.89.1.7"), netip.MustParseAddr("10.89.1.8")
	r := newResolver(t, Config{
		Servers: []netip.AddrPort{host.addr},
		Names:   internalNames{fakeNames: fakeNames{"web": netip.MustParseAddr("10.89.1.2")}, open: open},
	})
	ask := func(from netip.Addr, name string) result {
		t.Helper()
		msg, err := r.AnswerFrom(t.Context(), query(t, 9, name, dnsmessage.TypeA), false, from)
		if err != nil {
			t.Fatal(err)
		}
		return parse(t, msg)
	}
	if got := ask(shut, "web."); !slices.Equal(got.Answers, []string{"A 10.89.1.2"}) {
		t.Errorf("web from the internal client: %+v, want its neighbour's address", got)
	}
	for _, name := range []string{"secret.example.com.", "myhost."} {
		if got := ask(shut, name); got.RCode != dnsmessage.RCodeServerFailure || len(got.Answers) != 0 {
			t.Errorf("%s from the internal client: %+v, want SERVFAIL and no answer", name, got)
		}
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the host's server was asked %d times for the internal client, want 0", n)
	}
	if got := ask(open, "example.com."); !slices.Equal(got.Answers, []string{"A 192.0.2.1"}) {
		t.Errorf("example.com from a client with a way out: %+v", got)
	}
}
