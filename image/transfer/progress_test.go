package transfer

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lodger-containers/lodger/image"
)

// TestProgressLines checks the output on something other than a terminal:
// one line per layer, then the manifest; a layer already present says so.
func TestProgressLines(t *testing.T) {
	f := newFakeRegistry(t)
	a, b := tarFile(t, "a", 3000), tarFile(t, "b", 5000)
	la := fakeLayer{blob: compressBytes(t, a, gzipWriter), mediaType: imgspecv1.MediaTypeImageLayerGzip, diffID: digest.FromBytes(a)}
	lb := fakeLayer{blob: compressBytes(t, b, gzipWriter), mediaType: imgspecv1.MediaTypeImageLayerGzip, diffID: digest.FromBytes(b)}
	first, _ := f.put("test/two", "v1", la, lb)
	second, _ := f.put("test/shared", "v1", la)
	store := newStore(t)

	var out bytes.Buffer
	if _, err := pullFake(t, store, f, "test/two:v1", image.Options{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Copying blob " + digest.FromBytes(la.blob).String(),
		"Copying blob " + digest.FromBytes(lb.blob).String(),
		"Writing manifest " + first.String(),
	}
	if diff := cmp.Diff(want, lines(out.String())); diff != "" {
		t.Errorf("progress of a fresh pull (-want +got):\n%s", diff)
	}

	out.Reset()
	if _, err := pullFake(t, store, f, "test/shared:v1", image.Options{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"Copying blob " + digest.FromBytes(la.blob).String() + " skipped: already exists",
		"Writing manifest " + second.String(),
	}
	if diff := cmp.Diff(want, lines(out.String())); diff != "" {
		t.Errorf("progress with a layer present (-want +got):\n%s", diff)
	}

	out.Reset()
	if _, err := pullFake(t, store, f, "test/two:v1", image.Options{}); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("a pull without Progress wrote %q", out.String())
	}
}

func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// TestProgressBars draws the terminal bars into a buffer: each layer's
// short digest and its counters, then the manifest line below them.
func TestProgressBars(t *testing.T) {
	var out bytes.Buffer
	p := newProgressBars(context.Background(), &out, true)
	d1, d2 := digest.FromString("one"), digest.FromString("two")
	p.skipped(d1)
	bar := p.start(d2, 4096)
	bar.add(2048)
	bar.add(2048)
	bar.finish(true)
	p.printf("Writing manifest %s\n", "sha256:x")
	got := regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]").ReplaceAllString(out.String(), "")
	for _, w := range []string{
		// The width of a buffer is unknown; mpb may cut the line short.
		"Copying blob " + d1.Encoded()[:12] + " skipped",
		"Copying blob " + d2.Encoded()[:12],
		"Writing manifest sha256:x\n",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("bars output %q lacks %q", got, w)
		}
	}
	if strings.Contains(got, d2.Encoded()) {
		t.Errorf("bars output %q has the full digest; want it cut to 12 characters", got)
	}
}

// TestBlobReports checks Options.Blobs on a streaming pull: per layer a
// start with the blob's size, byte counts rising to that size, and done;
// a layer already present is reported as existing, with no bytes.
func TestBlobReports(t *testing.T) {
	f := newFakeRegistry(t)
	a, b := tarFile(t, "a", 300000), tarFile(t, "b", 5000)
	la := fakeLayer{blob: compressBytes(t, a, plainWriter), mediaType: imgspecv1.MediaTypeImageLayer, diffID: digest.FromBytes(a)}
	lb := fakeLayer{blob: compressBytes(t, b, gzipWriter), mediaType: imgspecv1.MediaTypeImageLayerGzip, diffID: digest.FromBytes(b)}
	f.put("test/two", "v1", la, lb)
	f.put("test/shared", "v1", la)
	store := newStore(t)

	type summary struct {
		Events []image.BlobEvent
		Last   int64 // the last byte count
		Total  int64
		Rising bool
	}
	collect := func(ref string) map[digest.Digest]*summary {
		got := map[digest.Digest]*summary{}
		o := image.Options{Blobs: func(p image.BlobProgress) {
			s := got[p.Digest]
			if s == nil {
				s = &summary{Rising: true}
				got[p.Digest] = s
			}
			if p.Event == image.BlobBytes {
				if p.Current <= s.Last {
					s.Rising = false
				}
				s.Last = p.Current
				if len(s.Events) > 0 && s.Events[len(s.Events)-1] == image.BlobBytes {
					return
				}
			}
			if p.Event == image.BlobStart || p.Event == image.BlobDone {
				s.Total = p.Total
			}
			s.Events = append(s.Events, p.Event)
		}}
		if _, err := pullFake(t, store, f, ref, o); err != nil {
			t.Fatal(err)
		}
		return got
	}
	da, db := digest.FromBytes(la.blob), digest.FromBytes(lb.blob)
	want := map[digest.Digest]*summary{
		da: {Events: []image.BlobEvent{image.BlobStart, image.BlobBytes, image.BlobDone}, Last: int64(len(la.blob)), Total: int64(len(la.blob)), Rising: true},
		db: {Events: []image.BlobEvent{image.BlobStart, image.BlobBytes, image.BlobDone}, Last: int64(len(lb.blob)), Total: int64(len(lb.blob)), Rising: true},
	}
	if diff := cmp.Diff(want, collect("test/two:v1")); diff != "" {
		t.Errorf("reports of a fresh pull (-want +got):\n%s", diff)
	}
	want = map[digest.Digest]*summary{da: {Events: []image.BlobEvent{image.BlobExists}, Rising: true}}
	if diff := cmp.Diff(want, collect("test/shared:v1")); diff != "" {
		t.Errorf("reports with the layer present (-want +got):\n%s", diff)
	}
}
