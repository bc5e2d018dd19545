package config

import "testing"

func TestMaxUnpackedSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"", 0, false},
		{"32GiB", 32 << 30, false},
		{"512m", 512 << 20, false},
		{"lots", 0, true},
		{"-1", 0, true},
	} {
		var c Config
		c.Pull.MaxUnpackedSize = tc.in
		got, err := c.MaxUnpackedSize()
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("MaxUnpackedSize(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestAuthFile(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/4242")
	if got := AuthFile(); got != "" {
		t.Errorf("AuthFile() = %q with XDG_RUNTIME_DIR set, want the library's choice", got)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", "/home/carol/.cfg")
	if got, want := AuthFile(), "/home/carol/.cfg/containers/auth.json"; got != want {
		t.Errorf("AuthFile() = %q, want %q", got, want)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/carol")
	if got, want := AuthFile(), "/home/carol/.config/containers/auth.json"; got != want {
		t.Errorf("AuthFile() = %q, want %q", got, want)
	}
}
