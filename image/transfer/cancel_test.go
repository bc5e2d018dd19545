package transfer

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lodger-containers/lodger/image"
)

// TestSaveInterruptedMidLayer cancels a save (Ctrl-C on lodger save, issue
// 12) while it copies one layer of 256 MiB: the copy must stop there, not
// at the end of the layer, and leave neither the archive nor its
// temporary file.
func TestSaveInterruptedMidLayer(t *testing.T) {
	store := newStore(t)
	const size = 256 << 20
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: size, Typeflag: tar.TypeReg})
		if err == nil {
			_, err = io.CopyN(tw, zeros{}, size)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	id, err := image.Commit(context.Background(), store, pr, image.CommitOptions{Name: "localhost/big:v1"})
	if err != nil {
		t.Fatal(err)
	}
	// docker-archive, the default: an oci-archive is staged in a
	// directory of containers/image's own and written to the temporary
	// file only at the end, which this test cannot watch.
	for _, format := range []string{FormatDockerArchive} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.tar")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var largest atomic.Int64 // the largest the temporary file was seen
			stop := make(chan struct{})
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				for {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
					ents, _ := os.ReadDir(dir)
					for _, e := range ents {
						if fi, err := e.Info(); err == nil && fi.Size() > largest.Load() {
							largest.Store(fi.Size())
						}
					}
					if largest.Load() > 1<<20 {
						cancel()
					}
				}
			}()
			err = Save(ctx, store, []string{id}, path, format, image.Options{})
			close(stop)
			<-watched
			if !errors.Is(err, context.Canceled) {
				t.Errorf("save cancelled as it copied: %v, want context.Canceled", err)
			}
			t.Logf("the temporary file grew to %d bytes", largest.Load())
			if largest.Load() > size/2 {
				t.Errorf("the save went on after it was cancelled: its temporary file grew to %d bytes of %d", largest.Load(), size)
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				t.Errorf("left in the output directory: %s", e.Name())
			}
		})
	}
}
