package container

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lodger-containers/lodger/volume"
)

func TestPlan(t *testing.T) {
	host := t.TempDir()
	missing := filepath.Join(host, "missing")
	t.Run("defaults", func(t *testing.T) {
		p, err := MountOptions{}.plan()
		if err != nil {
			t.Fatal(err)
		}
		want := []Mount{{Type: MountTmpfs, Destination: "/dev/shm", Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=67108864"}}}
		if diff := cmp.Diff(want, p.mounts, ignoreOrigin); diff != "" {
			t.Errorf("plan (-want +got):\n%s", diff)
		}
	})
	t.Run("read-only with tmpfs and shm size", func(t *testing.T) {
		p, err := MountOptions{ReadOnly: true, ReadOnlyTmpfs: true, ShmSize: 1 << 20, List: []Mount{tmpfs("/run", "size=1048576")}}.plan()
		if err != nil {
			t.Fatal(err)
		}
		var dsts []string
		for _, m := range p.mounts {
			dsts = append(dsts, m.Destination)
		}
		// The user's /run wins over --read-only-tmpfs's.
		if diff := cmp.Diff([]string{"/run", "/dev/shm", "/tmp"}, dsts); diff != "" {
			t.Errorf("destinations (-want +got):\n%s", diff)
		}
		if !p.readOnly || !strings.Contains(strings.Join(p.mounts[1].Options, ","), "size=1048576") {
			t.Errorf("plan = %+v", p)
		}
	})
	t.Run("read-only without tmpfs", func(t *testing.T) {
		p, err := MountOptions{ReadOnly: true}.plan()
		if err != nil || len(p.mounts) != 1 {
			t.Errorf("plan = %+v, %v; want /dev/shm only", p, err)
		}
	})
	t.Run("user /dev/shm wins", func(t *testing.T) {
		p, err := MountOptions{ShmSize: 1 << 30, List: []Mount{tmpfs("/dev/shm", "size=2097152")}}.plan()
		if err != nil || len(p.mounts) != 1 || p.mounts[0].Origin != "tmpfs /dev/shm" {
			t.Errorf("plan = %+v, %v", p, err)
		}
	})
	for _, tt := range []struct {
		name string
		o    MountOptions
		word string
	}{
		{"missing bind source", MountOptions{List: []Mount{bind(missing, "/c")}}, "bind " + missing + ":/c: bind source " + missing + " does not exist"},
		{"duplicate destination", MountOptions{List: []Mount{bind(host, "/c"), tmpfs("/c")}}, "tmpfs /c: duplicate mount destination /c (also given by bind " + host + ":/c)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.o.plan()
			if err == nil || !strings.Contains(err.Error(), tt.word) {
				t.Errorf("plan = %v; want an error with %q", err, tt.word)
			}
		})
	}
}

func TestSpecMounts(t *testing.T) {
	host := t.TempDir()
	p, err := MountOptions{
		List: []Mount{
			{Type: MountBind, Source: host, Destination: "/h", ReadOnly: true, Options: []string{"nosuid"}},
			{Type: MountVolume, Source: "data", Destination: "/d"},
			{Type: MountVolume, Destination: "/anon"},
			bind(host, "/etc/hosts"),
			tmpfs("/t", "size=1024"),
		},
	}.plan()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"data", ""}, p.volumeNames()); diff != "" {
		t.Errorf("volumeNames (-want +got):\n%s", diff)
	}
	own := []specs.Mount{
		{Destination: "/etc/hosts", Type: "bind", Source: "/run/hosts", Options: []string{"bind"}},
		{Destination: "/etc/hostname", Type: "bind", Source: "/run/hostname", Options: []string{"bind"}},
	}
	vols := []volume.Volume{{Name: "data", Mountpoint: "/v/data/_data"}, {Name: "anon", Mountpoint: "/v/anon/_data"}}
	got := p.specMounts(own, vols)
	want := []specs.Mount{
		own[1],
		{Destination: "/h", Type: "bind", Source: host, Options: []string{"rbind", "ro", "nosuid"}},
		{Destination: "/d", Type: "bind", Source: "/v/data/_data", Options: []string{"rbind"}},
		{Destination: "/anon", Type: "bind", Source: "/v/anon/_data", Options: []string{"rbind"}},
		{Destination: "/etc/hosts", Type: "bind", Source: host, Options: []string{"rbind"}},
		{Destination: "/t", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "size=1024"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=67108864"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("specMounts (-want +got):\n%s", diff)
	}
}

// ignoreOrigin leaves the message field out of comparisons.
var ignoreOrigin = cmpopts.IgnoreFields(Mount{}, "Origin")

func bind(src, dst string) Mount {
	return Mount{Type: MountBind, Source: src, Destination: dst, Origin: "bind " + src + ":" + dst}
}

// tmpfs is a tmpfs with Docker's default options and data.
func tmpfs(dst string, data ...string) Mount {
	return Mount{Type: MountTmpfs, Destination: dst, Options: append([]string{"nosuid", "nodev", "noexec"}, data...), Origin: "tmpfs " + dst}
}
