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
		// A file mounted two directories deep (a build's secret): both
		// directories were made for it.
		{Path: "/run", Kind: archive.ChangeAdd},
		{Path: "/run/secrets", Kind: archive.ChangeAdd},
		{Path: "/run/secrets/tok", Kind: archive.ChangeAdd},
		// A directory changed only by a mount point made in it.
		{Path: "/opt", Kind: archive.ChangeModify},
		{Path: "/opt/hostname", Kind: archive.ChangeAdd},
		// A directory added with a mount point and a file of its own.
		{Path: "/srv", Kind: archive.ChangeAdd},
		{Path: "/srv/a", Kind: archive.ChangeAdd},
		{Path: "/srv/a/mnt", Kind: archive.ChangeAdd},
		{Path: "/srv/b", Kind: archive.ChangeAdd},
	}
	mounts := map[string]bool{"/etc/hosts": true, "/data/vol": true, "/work/mnt": true, "/run/secrets/tok": true, "/opt/hostname": true, "/srv/a/mnt": true}
	var got []string
	for _, c := range diffLines(changes, mounts) {
		got = append(got, c.String())
	}
	want := []string{"D /bin/ls", "C /etc", "C /etc/passwd", "A /new", "A /srv", "A /srv/b", "A /work", "A /work/file"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("diff lines (-want +got):\n%s", d)
	}
}
