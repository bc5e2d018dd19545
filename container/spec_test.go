package container

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func strs(s ...string) []string { return s }

func TestCommand(t *testing.T) {
	cfg := imgspecv1.ImageConfig{Entrypoint: []string{"/bin/echo", "entry"}, Cmd: []string{"default-arg"}}
	tests := []struct {
		name       string
		cfg        imgspecv1.ImageConfig
		entrypoint []string
		args       []string
		want       []string
	}{
		{"image entrypoint and cmd", cfg, nil, nil, []string{"/bin/echo", "entry", "default-arg"}},
		{"args replace cmd", cfg, nil, []string{"x", "y"}, []string{"/bin/echo", "entry", "x", "y"}},
		{"entrypoint flag drops image cmd", cfg, strs("/bin/sh"), nil, []string{"/bin/sh"}},
		{"entrypoint flag with args", cfg, strs("/bin/sh"), []string{"-c", "true"}, []string{"/bin/sh", "-c", "true"}},
		{"empty entrypoint clears it", cfg, strs(""), []string{"ls"}, []string{"ls"}},
		{"API entrypoint of several words", cfg, strs("/bin/sh", "-c"), []string{"true"}, []string{"/bin/sh", "-c", "true"}},
		{"API empty entrypoint clears it", cfg, []string{}, []string{"ls"}, []string{"ls"}},
		{"cmd only", imgspecv1.ImageConfig{Cmd: []string{"sh"}}, nil, nil, []string{"sh"}},
		{"nothing", imgspecv1.ImageConfig{}, nil, nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Command(tt.cfg, tt.entrypoint, tt.args)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Command() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("LODGER_TEST_PASS", "from-host")
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("# comment\n\nFILE_VAR=1\nIMAGE_VAR=from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Env([]string{"PATH=/bin", "IMAGE_VAR=from-image"}, []string{envFile},
		[]string{"IMAGE_VAR=from-flag", "LODGER_TEST_PASS", "LODGER_TEST_UNSET_XYZ", "EMPTY="})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/bin", "IMAGE_VAR=from-flag", "FILE_VAR=1", "LODGER_TEST_PASS=from-host", "EMPTY="}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Env() (-want +got):\n%s", diff)
	}

	got, err = Env(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{defaultPath}, got); diff != "" {
		t.Errorf("Env() without PATH (-want +got):\n%s", diff)
	}
}

func TestEnvErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("=novalue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"empty name":         func() error { _, err := Env(nil, nil, []string{"=x"}); return err },
		"missing env file":   func() error { _, err := Env(nil, []string{filepath.Join(dir, "nope")}, nil); return err },
		"malformed env file": func() error { _, err := Env(nil, []string{bad}, nil); return err },
	} {
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestWorkdir(t *testing.T) {
	tests := []struct {
		image, flag, want string
		wantErr           bool
	}{
		{"", "", "/", false},
		{"/app", "", "/app", false},
		{"/app", "/other/../x", "/x", false},
		{"", "relative", "", true},
	}
	for _, tt := range tests {
		got, err := Workdir(imgspecv1.ImageConfig{WorkingDir: tt.image}, tt.flag)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Workdir(%q, %q) = %q, %v; want %q, error %v", tt.image, tt.flag, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"", "web", "web-1", "a.b_c", "0day"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"a/b", "bad name", "-dash", ".dot", "x!", "_x"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) accepted", bad)
		}
	}
}
