package main

import (
	"strings"
	"testing"

	"github.com/lodger-containers/lodger/container/mountspec"
)

func TestParseShmSize(t *testing.T) {
	for in, want := range map[string]int64{"64m": 64 << 20, "1g": 1 << 30, "512k": 512 << 10, "1048576": 1 << 20, "128MB": 128 << 20} {
		t.Run(in, func(t *testing.T) {
			got, err := parseShmSize(in)
			if err != nil || got != want {
				t.Errorf("parseShmSize(%q) = %d, %v; want %d", in, got, err, want)
			}
		})
	}
	for _, in := range []string{"", "0", "-1m", "big", "1x"} {
		t.Run(in, func(t *testing.T) {
			if _, err := parseShmSize(in); err == nil || !strings.Contains(err.Error(), "--shm-size") {
				t.Errorf("parseShmSize(%q) = %v; want a --shm-size error", in, err)
			}
		})
	}
}

// The CLI names its own flag in a mount's syntax error and in the mount's
// origin, which the library's later messages quote.
func TestParseMountFlag(t *testing.T) {
	for _, tt := range []struct {
		form      mountspec.Form
		in, flag  string
		errPrefix string
	}{
		{mountspec.Volume, "/h:/c", "-v", `-v "./x:/c": relative bind source ./x`},
		{mountspec.Mount, "type=bind,src=/h,dst=/c", "--mount", `--mount "./x:/c": "./x:/c": want KEY=VALUE`},
		{mountspec.Tmpfs, "/t", "--tmpfs", `--tmpfs "./x:/c": destination ./x is not an absolute path`},
	} {
		m, err := parseMountFlag(tt.form, tt.in)
		if err != nil || m.Origin != tt.flag+" "+tt.in {
			t.Errorf("parseMountFlag(%v, %q) = origin %q, %v; want origin %q", tt.form, tt.in, m.Origin, err, tt.flag+" "+tt.in)
		}
		if _, err := parseMountFlag(tt.form, "./x:/c"); err == nil || !strings.HasPrefix(err.Error(), tt.errPrefix) {
			t.Errorf("parseMountFlag(%v, ./x:/c) = %v; want an error starting %q", tt.form, err, tt.errPrefix)
		}
	}
}
