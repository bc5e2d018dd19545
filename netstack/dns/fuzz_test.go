package dns

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzAnswer feeds Answer hostile messages. Its seed corpus runs with the
// other tests; `go test -fuzz FuzzAnswer ./netstack/dns` explores further.
func FuzzAnswer(f *testing.F) {
	f.Add(query(f, 1, "myhost.", dnsmessage.TypeA), false)
	f.Add(query(f, 2, "dual.", dnsmessage.TypeALL), true)
	f.Add(query(f, 3, "v6only.", dnsmessage.TypeAAAA), false)
	f.Add(query(f, 4, "elsewhere.example.", dnsmessage.TypeTXT), false)
	f.Add([]byte{0, 5, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, false)
	f.Add([]byte{0, 5, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}, false) // pointer loop
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true)
	f.Add([]byte{}, false)
	dir := f.TempDir()
	hosts := writeFile(f, dir, "hosts", testHosts)
	// A dead upstream keeps forwarded seeds fast.
	r, err := New(Config{Hosts: hosts, ResolvConf: dir + "/missing", Servers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}, Timeout: 50 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q []byte, tcp bool) {
		resp, err := r.Answer(t.Context(), q, tcp)
		if err != nil {
			return
		}
		if len(resp) < 12 {
			t.Fatalf("reply of %d bytes", len(resp))
		}
		if got, want := binary.BigEndian.Uint16(resp), binary.BigEndian.Uint16(q); got != want {
			t.Errorf("reply ID %d, want %d", got, want)
		}
		var p dnsmessage.Parser
		if h, err := p.Start(resp); err != nil || !h.Response {
			t.Errorf("reply header %+v, %v: want a response", h, err)
		}
		if !tcp && len(resp) > maxUDPReply {
			t.Errorf("UDP reply of %d bytes", len(resp))
		}
	})
}
