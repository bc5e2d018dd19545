package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lodger-containers/lodger/volume"
)

// ignoreFlag leaves the message field out of comparisons.
var ignoreFlag = cmpopts.IgnoreFields(Mount{}, "Flag")

func TestParseVolume(t *testing.T) {
	tests := []struct {
		in   string
		want Mount
	}{
		{"/data", Mount{Type: MountVolume, Destination: "/data"}},
		{"/data/", Mount{Type: MountVolume, Destination: "/data"}},
		{"/host:/ctr", Mount{Type: MountBind, Source: "/host", Destination: "/ctr"}},
		{"/host/../h:/ctr/./x", Mount{Type: MountBind, Source: "/h", Destination: "/ctr/x"}},
		{"/host:/ctr:ro", Mount{Type: MountBind, Source: "/host", Destination: "/ctr", ReadOnly: true}},
		{"/host:/ctr:rw,z", Mount{Type: MountBind, Source: "/host", Destination: "/ctr"}},
		{"/host:/ctr:Z,U", Mount{Type: MountBind, Source: "/host", Destination: "/ctr", Chown: true}},
		{"/host:/ctr:noexec,nosuid,nodev", Mount{Type: MountBind, Source: "/host", Destination: "/ctr", Options: []string{"noexec", "nosuid", "nodev"}}},
		{"/host:/ctr:exec,rprivate", Mount{Type: MountBind, Source: "/host", Destination: "/ctr"}},
		{"data:/ctr", Mount{Type: MountVolume, Source: "data", Destination: "/ctr"}},
		{"my_vol.1-x:/ctr:ro,nocopy", Mount{Type: MountVolume, Source: "my_vol.1-x", Destination: "/ctr", ReadOnly: true, NoCopy: true}},
		{"vol:/ctr:U", Mount{Type: MountVolume, Source: "vol", Destination: "/ctr", Chown: true}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVolume(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, ignoreFlag); diff != "" {
				t.Errorf("ParseVolume(%q) (-want +got):\n%s", tt.in, diff)
			}
			if got.Flag != "-v "+tt.in {
				t.Errorf("Flag = %q", got.Flag)
			}
		})
	}
}

func TestParseVolumeErrors(t *testing.T) {
	tests := []struct {
		in, word string
	}{
		{"", "empty destination"},
		{"ctr", "not an absolute path"},
		{"/", "cannot be /"},
		{"/host:/", "cannot be /"},
		{"/host:ctr", "not an absolute path"},
		{"/data:ro", "not an absolute path"},
		{":/ctr", "empty source"},
		{"./x:/ctr", "relative bind source"},
		{"x/y:/ctr", "relative bind source"},
		{"../x:/ctr", "relative bind source"},
		{".:/ctr", "relative bind source"},
		{"~/x:/ctr", "relative bind source"},
		{"a:/ctr", "invalid volume name"},
		{"_x:/ctr", "invalid volume name"},
		{"x!:/ctr", "invalid volume name"},
		{"/host:/ctr:", "empty options"},
		{"/host:/ctr:ro,rw", "conflict"},
		{"/host:/ctr:z,Z", "conflict"},
		{"/host:/ctr:exec,noexec", "conflict"},
		{"/host:/ctr:ro,,", "empty option"},
		{"/host:/ctr:shared", "unknown option"},
		{"/host:/ctr:nocopy", "nocopy"},
		{"/a:/b:ro:x", "too many"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseVolume(tt.in)
			if err == nil {
				t.Fatalf("ParseVolume(%q) succeeded; want an error", tt.in)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.word) || !strings.HasPrefix(msg, "-v ") || !strings.Contains(msg, tt.in) {
				t.Errorf("ParseVolume(%q) = %q; want -v, the value and %q", tt.in, msg, tt.word)
			}
		})
	}
}

func TestParseMount(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tmpfsDefaults := []string{"nosuid", "nodev", "noexec"}
	tests := []struct {
		in   string
		want Mount
	}{
		{"type=bind,source=/h,target=/c", Mount{Type: MountBind, Source: "/h", Destination: "/c"}},
		{"type=bind,src=/h,dst=/c,readonly", Mount{Type: MountBind, Source: "/h", Destination: "/c", ReadOnly: true}},
		{"type=bind,src=/h,destination=/c,ro=true,bind-propagation=rprivate", Mount{Type: MountBind, Source: "/h", Destination: "/c", ReadOnly: true}},
		{"type=bind,src=/h,dst=/c,readonly=false", Mount{Type: MountBind, Source: "/h", Destination: "/c"}},
		{"type=bind,src=rel/dir,dst=/c", Mount{Type: MountBind, Source: filepath.Join(wd, "rel/dir"), Destination: "/c"}},
		{`"type=bind","src=/with,comma",dst=/c`, Mount{Type: MountBind, Source: "/with,comma", Destination: "/c"}},
		{"target=/c", Mount{Type: MountVolume, Destination: "/c"}},
		{"type=volume,src=data,dst=/c,volume-nocopy", Mount{Type: MountVolume, Source: "data", Destination: "/c", NoCopy: true}},
		{"type=volume,source=data,target=/c,volume-nocopy=0,consistency=cached", Mount{Type: MountVolume, Source: "data", Destination: "/c"}},
		{"type=tmpfs,dst=/t", Mount{Type: MountTmpfs, Destination: "/t", Options: tmpfsDefaults}},
		{"type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770", Mount{Type: MountTmpfs, Destination: "/t", Options: append(tmpfsDefaults, "size=67108864", "mode=1770")}},
		{"type=tmpfs,dst=/t,tmpfs-size=1024,readonly", Mount{Type: MountTmpfs, Destination: "/t", ReadOnly: true, Options: append(tmpfsDefaults, "size=1024")}},
		{"Type=tmpfs,Target=/t", Mount{Type: MountTmpfs, Destination: "/t", Options: tmpfsDefaults}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMount(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, ignoreFlag); diff != "" {
				t.Errorf("ParseMount(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseMountErrors(t *testing.T) {
	tests := []struct {
		in, word string
	}{
		{"", "empty"},
		{"type=bind,src=/h", "no target"},
		{"type=bind,dst=/c", "needs source"},
		{"type=nfs,dst=/c", "use bind, volume or tmpfs"},
		{"type=bind,src=/h,dst=c", "not an absolute path"},
		{"type=bind,src=/h,dst=/", "cannot be /"},
		{"type=bind,src=/h,dst=/c,bind-propagation=shared", "only rprivate"},
		{"type=bind,src=/h,dst=/c,readonly=maybe", "true or false"},
		{"type=bind,src=/h,dst=/c,tmpfs-size=1m", "tmpfs-size applies to type=tmpfs"},
		{"type=bind,src=/h,dst=/c,volume-nocopy", "volume-nocopy applies to type=volume"},
		{"type=volume,src=data,dst=/c,bind-propagation=rprivate", "bind-propagation applies to type=bind"},
		{"type=volume,src=../x,dst=/c", "invalid volume name"},
		{"type=tmpfs,src=x,dst=/c", "no source"},
		{"type=tmpfs,dst=/c,tmpfs-size=lots", "tmpfs-size"},
		{"type=tmpfs,dst=/c,tmpfs-size=-1", "tmpfs-size"},
		{"type=tmpfs,dst=/c,tmpfs-mode=999", "tmpfs-mode"},
		{"type=tmpfs,dst=/c,tmpfs-mode=17777", "tmpfs-mode"},
		{"type=bind,src=/h,dst=/c,nosuchkey=1", "unknown option"},
		{"type", "want KEY=VALUE"},
		{`type=bind,"src=/h`, "quote"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseMount(tt.in)
			if err == nil {
				t.Fatalf("ParseMount(%q) succeeded; want an error", tt.in)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.word) || !strings.HasPrefix(msg, "--mount ") {
				t.Errorf("ParseMount(%q) = %q; want --mount and %q", tt.in, msg, tt.word)
			}
		})
	}
}

func TestParseTmpfs(t *testing.T) {
	tests := []struct {
		in   string
		want Mount
	}{
		{"/t", Mount{Type: MountTmpfs, Destination: "/t", Options: []string{"nosuid", "nodev", "noexec"}}},
		{"/t:size=64m,mode=1777", Mount{Type: MountTmpfs, Destination: "/t", Options: []string{"nosuid", "nodev", "noexec", "size=67108864", "mode=1777"}}},
		{"/t:exec,ro", Mount{Type: MountTmpfs, Destination: "/t", ReadOnly: true, Options: []string{"nosuid", "nodev"}}},
		{"/t:suid,dev,exec,rw", Mount{Type: MountTmpfs, Destination: "/t"}},
		{"/t:size=50%,uid=1000,gid=1000,nr_inodes=4k,noexec", Mount{Type: MountTmpfs, Destination: "/t", Options: []string{"nosuid", "nodev", "noexec", "size=50%", "uid=1000", "gid=1000", "nr_inodes=4k"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTmpfs(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, ignoreFlag, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ParseTmpfs(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	for _, tt := range []struct{ in, word string }{
		{"", "empty destination"},
		{"t", "not an absolute path"},
		{"/:size=1m", "cannot be /"},
		{"/t:size=big", "size=big"},
		{"/t:size=0", "size=0"},
		{"/t:mode=8", "mode=8"},
		{"/t:mode=77777", "mode=77777"},
		{"/t:uid=alice", "uid=alice"},
		{"/t:nr_inodes=x", "nr_inodes=x"},
		{"/t:ro,rw", "conflict"},
		{"/t:exec,noexec", "conflict"},
		{"/t:size", "unknown option"},
		{"/t:bogus", "unknown option"},
		{"/t:", "empty option"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseTmpfs(tt.in)
			if err == nil {
				t.Fatalf("ParseTmpfs(%q) succeeded; want an error", tt.in)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.word) || !strings.HasPrefix(msg, "--tmpfs ") {
				t.Errorf("ParseTmpfs(%q) = %q; want --tmpfs and %q", tt.in, msg, tt.word)
			}
		})
	}
}

func TestParseShmSize(t *testing.T) {
	for in, want := range map[string]int64{"64m": 64 << 20, "1g": 1 << 30, "512k": 512 << 10, "1048576": 1 << 20, "128MB": 128 << 20} {
		t.Run(in, func(t *testing.T) {
			got, err := ParseShmSize(in)
			if err != nil || got != want {
				t.Errorf("ParseShmSize(%q) = %d, %v; want %d", in, got, err, want)
			}
		})
	}
	for _, in := range []string{"", "0", "-1m", "big", "1x"} {
		t.Run(in, func(t *testing.T) {
			if _, err := ParseShmSize(in); err == nil || !strings.Contains(err.Error(), "--shm-size") {
				t.Errorf("ParseShmSize(%q) = %v; want a --shm-size error", in, err)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	host := t.TempDir()
	missing := filepath.Join(host, "missing")
	t.Run("defaults", func(t *testing.T) {
		p, err := MountOptions{}.plan()
		if err != nil {
			t.Fatal(err)
		}
		want := []Mount{{Type: MountTmpfs, Destination: "/dev/shm", Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=67108864"}}}
		if diff := cmp.Diff(want, p.mounts, ignoreFlag); diff != "" {
			t.Errorf("plan (-want +got):\n%s", diff)
		}
	})
	t.Run("read-only with tmpfs and shm size", func(t *testing.T) {
		p, err := MountOptions{ReadOnly: true, ReadOnlyTmpfs: true, ShmSize: 1 << 20, List: parsed(t, ParseTmpfs, "/run:size=1m")}.plan()
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
		p, err := MountOptions{ShmSize: 1 << 30, List: parsed(t, ParseTmpfs, "/dev/shm:size=2m")}.plan()
		if err != nil || len(p.mounts) != 1 || p.mounts[0].Flag != "--tmpfs /dev/shm:size=2m" {
			t.Errorf("plan = %+v, %v", p, err)
		}
	})
	for _, tt := range []struct {
		name string
		o    MountOptions
		word string
	}{
		{"missing bind source", MountOptions{List: parsed(t, ParseVolume, missing+":/c")}, "bind source " + missing + " does not exist"},
		{"missing --mount source", MountOptions{List: parsed(t, ParseMount, "type=bind,src="+missing+",dst=/c")}, "does not exist"},
		{"duplicate destination", MountOptions{List: append(parsed(t, ParseVolume, host+":/c"), parsed(t, ParseTmpfs, "/c/")...)}, "duplicate mount destination /c"},
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
		List: append(parsed(t, ParseVolume, host+":/h:ro,nosuid", "data:/d", "/anon", host+":/etc/hosts"),
			parsed(t, ParseTmpfs, "/t:size=1k")...),
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

// parsed is values parsed by parse, as the front ends hand them over.
func parsed(t *testing.T, parse func(string) (Mount, error), values ...string) []Mount {
	t.Helper()
	var out []Mount
	for _, v := range values {
		m, err := parse(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
