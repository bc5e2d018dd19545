package seccomp

import (
	"bytes"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var defaultCaps = []string{"CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"}

func TestDefaultCompiles(t *testing.T) {
	p, err := Default(defaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(f) == 0 || len(f)%8 != 0 {
		t.Fatalf("filter of %d bytes, want a non-empty array of 8-byte instructions", len(f))
	}
	// The same profile again is the same program, without assembling it.
	again, err := Compile(p)
	if err != nil || !bytes.Equal(f, again) {
		t.Errorf("second Compile = %d bytes, %v; want the first program", len(again), err)
	}
	// An equal profile that is another value is compiled afresh, and the
	// assembly is deterministic.
	q, _ := Default(defaultCaps)
	other, err := Compile(q)
	if err != nil || !bytes.Equal(f, other) {
		t.Errorf("an equal profile compiled to a different program (%v)", err)
	}
}

func TestCompileRejects(t *testing.T) {
	for name, p := range map[string]*specs.LinuxSeccomp{
		"unknown default action": {DefaultAction: "SCMP_ACT_BOGUS"},
		"unknown rule action": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir"}, Action: "SCMP_ACT_BOGUS"},
		}},
	} {
		if _, err := Compile(p); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}
