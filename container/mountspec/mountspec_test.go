package mountspec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lodger-containers/lodger/container"
)

// checkError wants err to be an *Error of form for value whose reason
// says word, and a container.ErrInvalid, so that each front end can phrase
// it with its own flag or field and refuse it as bad input.
func checkError(t *testing.T, err error, form Form, value, word string) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if se.Form != form || se.Value != value || !strings.Contains(se.Reason, word) {
		t.Errorf("error = %+v; want form %v, value %q and a reason with %q", *se, form, value, word)
	}
	if !errors.Is(err, container.ErrInvalid) {
		t.Errorf("error %v is not container.ErrInvalid", err)
	}
	if strings.Contains(err.Error(), "--") {
		t.Errorf("error %q names a flag: the front end does", err)
	}
}

func TestParseVolume(t *testing.T) {
	tests := []struct {
		in   string
		want container.Mount
	}{
		{"/data", container.Mount{Type: container.MountVolume, Destination: "/data"}},
		{"/data/", container.Mount{Type: container.MountVolume, Destination: "/data"}},
		{"/host:/ctr", container.Mount{Type: container.MountBind, Source: "/host", Destination: "/ctr"}},
		{"/host/../h:/ctr/./x", container.Mount{Type: container.MountBind, Source: "/h", Destination: "/ctr/x"}},
		{"/host:/ctr:ro", container.Mount{Type: container.MountBind, Source: "/host", Destination: "/ctr", ReadOnly: true}},
		{"/host:/ctr:rw,z", container.Mount{Type: container.MountBind, Source: "/host", Destination: "/ctr"}},
		{"/host:/ctr:Z,U", container.Mount{Type: container.MountBind, Source: "/host", Destination: "/ctr", Chown: true}},
		{"/host:/ctr:noexec,nosuid,nodev", container.Mount{Type: container.MountBind, Source: "/host", Destination: "/ctr", Options: []string{"noexec", "nosuid", "nodev"}}},
		{"/host:/ctr:exec,rprivate", container.Mount{Type: container.MountBind, Source: "/host", Destination: "/ctr"}},
		{"data:/ctr", container.Mount{Type: container.MountVolume, Source: "data", Destination: "/ctr"}},
		{"my_vol.1-x:/ctr:ro,nocopy", container.Mount{Type: container.MountVolume, Source: "my_vol.1-x", Destination: "/ctr", ReadOnly: true, NoCopy: true}},
		{"vol:/ctr:U", container.Mount{Type: container.MountVolume, Source: "vol", Destination: "/ctr", Chown: true}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVolume(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseVolume(%q) (-want +got):\n%s", tt.in, diff)
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
			checkError(t, err, Volume, tt.in, tt.word)
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
		want container.Mount
	}{
		{"type=bind,source=/h,target=/c", container.Mount{Type: container.MountBind, Source: "/h", Destination: "/c"}},
		{"type=bind,src=/h,dst=/c,readonly", container.Mount{Type: container.MountBind, Source: "/h", Destination: "/c", ReadOnly: true}},
		{"type=bind,src=/h,destination=/c,ro=true,bind-propagation=rprivate", container.Mount{Type: container.MountBind, Source: "/h", Destination: "/c", ReadOnly: true}},
		{"type=bind,src=/h,dst=/c,readonly=false", container.Mount{Type: container.MountBind, Source: "/h", Destination: "/c"}},
		{"type=bind,src=rel/dir,dst=/c", container.Mount{Type: container.MountBind, Source: filepath.Join(wd, "rel/dir"), Destination: "/c"}},
		{`"type=bind","src=/with,comma",dst=/c`, container.Mount{Type: container.MountBind, Source: "/with,comma", Destination: "/c"}},
		{"target=/c", container.Mount{Type: container.MountVolume, Destination: "/c"}},
		{"type=volume,src=data,dst=/c,volume-nocopy", container.Mount{Type: container.MountVolume, Source: "data", Destination: "/c", NoCopy: true}},
		{"type=volume,source=data,target=/c,volume-nocopy=0,consistency=cached", container.Mount{Type: container.MountVolume, Source: "data", Destination: "/c"}},
		{"type=tmpfs,dst=/t", container.Mount{Type: container.MountTmpfs, Destination: "/t", Options: tmpfsDefaults}},
		{"type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770", container.Mount{Type: container.MountTmpfs, Destination: "/t", Options: append(tmpfsDefaults, "size=67108864", "mode=1770")}},
		{"type=tmpfs,dst=/t,tmpfs-size=1024,readonly", container.Mount{Type: container.MountTmpfs, Destination: "/t", ReadOnly: true, Options: append(tmpfsDefaults, "size=1024")}},
		{"Type=tmpfs,Target=/t", container.Mount{Type: container.MountTmpfs, Destination: "/t", Options: tmpfsDefaults}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMount(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
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
			checkError(t, err, Mount, tt.in, tt.word)
		})
	}
}

func TestParseTmpfs(t *testing.T) {
	tests := []struct {
		in   string
		want container.Mount
	}{
		{"/t", container.Mount{Type: container.MountTmpfs, Destination: "/t", Options: []string{"nosuid", "nodev", "noexec"}}},
		{"/t:size=64m,mode=1777", container.Mount{Type: container.MountTmpfs, Destination: "/t", Options: []string{"nosuid", "nodev", "noexec", "size=67108864", "mode=1777"}}},
		{"/t:exec,ro", container.Mount{Type: container.MountTmpfs, Destination: "/t", ReadOnly: true, Options: []string{"nosuid", "nodev"}}},
		{"/t:suid,dev,exec,rw", container.Mount{Type: container.MountTmpfs, Destination: "/t"}},
		{"/t:size=50%,uid=1000,gid=1000,nr_inodes=4k,noexec", container.Mount{Type: container.MountTmpfs, Destination: "/t", Options: []string{"nosuid", "nodev", "noexec", "size=50%", "uid=1000", "gid=1000", "nr_inodes=4k"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTmpfs(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
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
			checkError(t, err, Tmpfs, tt.in, tt.word)
		})
	}
}
