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
