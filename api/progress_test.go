package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/opencontainers/go-digest"

	"github.com/lodger-containers/lodger/image"
)

// feed sends a pull or push of two blobs through a blobStream: one
// already there, one of 4 MB in four reports (one thinned out).
func feed(t *testing.T, push bool) (string, digest.Digest) {
	t.Helper()
	var buf bytes.Buffer
	bs := newBlobStream(&buf, push)
	clock := time.Unix(1000, 0)
	bs.now = func() time.Time { return clock }
	have, fresh := digest.FromString("have"), digest.FromString("fresh")
	const total = 4 << 20
	bs.blob(image.BlobProgress{Event: image.BlobExists, Digest: have, Total: -1})
	bs.blob(image.BlobProgress{Event: image.BlobStart, Digest: fresh, Total: total})
	for i, n := range []int64{1 << 20, 1<<20 + 10, 2 << 20, total} {
		if i != 1 {
			clock = clock.Add(time.Second)
		}
		bs.blob(image.BlobProgress{Event: image.BlobBytes, Digest: fresh, Current: n, Total: total})
	}
	bs.blob(image.BlobProgress{Event: image.BlobDone, Digest: fresh, Current: total, Total: total})
	// A small blob of unknown size, done before any count went out.
	small := digest.FromString("small")
	bs.blob(image.BlobProgress{Event: image.BlobStart, Digest: small, Total: -1})
	bs.blob(image.BlobProgress{Event: image.BlobBytes, Digest: small, Current: 100, Total: -1})
	bs.blob(image.BlobProgress{Event: image.BlobBytes, Digest: small, Current: 200, Total: -1})
	bs.blob(image.BlobProgress{Event: image.BlobDone, Digest: small, Current: 500, Total: -1})
	return buf.String(), fresh
}

// TestBlobStreamSchema decodes the stream as Docker's clients do
// (jsonstream.Message, one JSON value per line) and checks its shape:
// the short digest as ID, Docker's status words, byte counts in
// progressDetail, and the "progress" bar as Docker's CLI renders it from
// them.
func TestBlobStreamSchema(t *testing.T) {
	for _, push := range []bool{false, true} {
		out, fresh := feed(t, push)
		type line struct {
			ID, Status     string
			Current, Total int64
			Detail         bool
			Bar            string
		}
		var got []line
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var m jsonstream.Message
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("line %q is not a jsonstream.Message: %v", sc.Text(), err)
			}
			var raw struct {
				Progress string `json:"progress"`
			}
			_ = json.Unmarshal(sc.Bytes(), &raw)
			l := line{ID: m.ID, Status: m.Status, Detail: m.Progress != nil, Bar: raw.Progress}
			if m.Progress != nil {
				l.Current, l.Total = m.Progress.Current, m.Progress.Total
				if want := jsonmessage.RenderTUIProgress(*m.Progress, 200); raw.Progress != want && (m.Progress.Current > 0) {
					t.Errorf("progress %q; Docker's CLI renders %q from the same counts", raw.Progress, want)
				}
			}
			got = append(got, l)
		}
		id := fresh.Encoded()[:12]
		haveID := digest.FromString("have").Encoded()[:12]
		words := map[bool][]string{false: {"Already exists", "Pulling fs layer", "Downloading", "Download complete", "Pull complete"},
			true: {"Layer already exists", "Preparing", "Pushing", "Pushed", ""}}[push]
		want := []line{
			{ID: haveID, Status: words[0], Detail: true},
			{ID: id, Status: words[1], Detail: true},
			{ID: id, Status: words[2], Detail: true, Current: 1 << 20, Total: 4 << 20, Bar: "[============>                                      ]  1.049MB/4.194MB"},
			{ID: id, Status: words[2], Detail: true, Current: 2 << 20, Total: 4 << 20, Bar: "[=========================>                         ]  2.097MB/4.194MB"},
			{ID: id, Status: words[2], Detail: true, Current: 4 << 20, Total: 4 << 20, Bar: "[==================================================>]  4.194MB/4.194MB"},
			{ID: id, Status: words[3], Detail: true},
		}
		if !push {
			want = append(want, line{ID: id, Status: words[4], Detail: true})
		}
		sid := digest.FromString("small").Encoded()[:12]
		want = append(want,
			line{ID: sid, Status: words[1], Detail: true},
			line{ID: sid, Status: words[2], Detail: true, Current: 100, Bar: "    100B"},
			line{ID: sid, Status: words[2], Detail: true, Current: 500, Total: 500, Bar: "[==================================================>]     500B/500B"},
			line{ID: sid, Status: words[3], Detail: true})
		if !push {
			want = append(want, line{ID: sid, Status: words[4], Detail: true})
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("push=%v: stream (-want +got):\n%s\n%s", push, d, out)
		}
		// Docker's CLI displays it without an error: plain, the
		// statuses a line each; on a terminal, a line per ID.
		var plain bytes.Buffer
		if err := jsonmessage.DisplayJSONMessagesStream(strings.NewReader(out), &plain, 0, false, nil); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plain.String(), id+": "+words[3]+"\n") {
			t.Errorf("push=%v: Docker's plain display:\n%s", push, plain.String())
		}
	}
}
