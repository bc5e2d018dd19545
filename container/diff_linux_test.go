package container

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.podman.io/storage/pkg/archive"
)

func TestDiffLines(t *testing.T) {
	changes := []archive.Change{
		{Path: "/new", Kind: archive.ChangeAdd},
		{Path: "/etc", Kind: archive.ChangeModify},
		{Path: "/etc/passwd", Kind: archive.ChangeModify},
		{Path: "/etc/hosts", Kind: archive.ChangeAdd},
		{Path: "/bin/ls", Kind: archive.ChangeDelete},
		{Path: "/data", Kind: archive.ChangeAdd},
		{Path: "/data/vol", Kind: archive.ChangeAdd},
		{Path: "/work", Kind: archive.ChangeAdd},
		{Path: "/work/mnt", Kind: archive.ChangeAdd},
		{Path: "/work/file", Kind: archive.ChangeAdd},
	}
	mounts := map[string]bool{"/etc/hosts": true, "/data/vol": true, "/work/mnt": true}
	var got []string
	for _, c := range diffLines(changes, mounts) {
		got = append(got, c.String())
	}
	want := []string{"D /bin/ls", "C /etc", "C /etc/passwd", "A /new", "A /work", "A /work/file"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("diff lines (-want +got):\n%s", d)
	}
}
