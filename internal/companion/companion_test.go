package companion

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// As the attacker: another user who can create files where a lodger was
// copied (a world-writable directory such as /tmp), or write the program
// there, does not get it run by the user's lodger.
func TestCheckRefusesWhatOthersWrite(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(shared, "lodger-monitor")
	if err := os.WriteFile(planted, []byte("#!/bin/sh\necho pwned\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Check(planted); err == nil || !strings.Contains(err.Error(), "anyone can create files in "+shared) {
		t.Errorf("a program in a world-writable directory: %v, want a refusal naming the directory", err)
	}

	private := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(private, 0o755); err != nil {
		t.Fatal(err)
	}
	writable := filepath.Join(private, "lodger-monitor")
	if err := os.WriteFile(writable, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o757); err != nil {
		t.Fatal(err)
	}
	if err := Check(writable); err == nil || !strings.Contains(err.Error(), "anyone can write it") {
		t.Errorf("a world-writable program: %v, want a refusal", err)
	}
	if err := os.Chmod(writable, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Check(writable); err != nil {
		t.Errorf("the owner's own program: %v", err)
	}
}
