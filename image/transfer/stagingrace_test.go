package transfer

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestStagingRace(t *testing.T) {
	rename := &os.LinkError{Op: "rename", Old: "/s/overlay-layers/tmp/temp-dir-123/0-addition", New: "/s/overlay-layers/abc.tar-split.gz", Err: syscall.ENOENT}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("unpack layer sha256:1: %w", rename), true},
		// Storage's message, should it ever stop wrapping.
		{fmt.Errorf("unpack layer sha256:1: %v", rename), true},
		{fmt.Errorf("unpack layer sha256:1: %w", &os.LinkError{Op: "rename", Old: "/s/overlay-layers/tmp/temp-dir-1/0-addition", New: "/x", Err: syscall.ENOSPC}), false},
		{fmt.Errorf("unpack layer sha256:1: %w", &os.PathError{Op: "open", Path: "/s/overlay/abc/diff/etc/passwd", Err: syscall.ENOENT}), false},
		// The unpacked files' staging directory, removed under the
		// chrooted unpack (TestUserNetworkParallel in CI).
		{fmt.Errorf("unpack layer sha256:1: %w", errors.New("unpacking failed (error: exit status 1; output: mkdir /usr: no such file or directory)")), true},
		{fmt.Errorf("unpack layer sha256:1: %w", errors.New("unpacking failed (error: exit status 1; output: no space left on device)")), false},
		{errors.New("fetch layer sha256:1: unexpected EOF"), false},
	} {
		if got := stagingRace(c.err); got != c.want {
			t.Errorf("stagingRace(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
