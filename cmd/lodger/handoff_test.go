package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFindTransfer: lodger-transfer is found beside lodger or in
// ../libexec/lodger, only as an executable file; otherwise the error names
// the program, where lodger looked and what to do.
func TestFindTransfer(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := findTransfer(bin)
	if !errors.Is(err, errNoTransfer) {
		t.Fatalf("nothing installed: %v, want errNoTransfer", err)
	}
	for _, want := range []string{"lodger-transfer not found", bin, "make install"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	beside := filepath.Join(bin, transferProgram)
	if err := os.WriteFile(beside, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := findTransfer(bin); !errors.Is(err, errNoTransfer) {
		t.Errorf("a file that is not executable: found %q, %v", p, err)
	}
	libexec := filepath.Join(root, "libexec", "lodger", transferProgram)
	if err := os.MkdirAll(filepath.Dir(libexec), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(libexec, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := findTransfer(bin); err != nil || p != filepath.Join(bin, "..", "libexec", "lodger", transferProgram) {
		t.Errorf("in ../libexec/lodger: %q, %v", p, err)
	}
	if err := os.Chmod(beside, 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := findTransfer(bin); err != nil || p != beside {
		t.Errorf("beside lodger: %q, %v; want %s first", p, err, beside)
	}
}

// TestFindTransferRefusesWhatOthersWrite, as the attacker: another user
// who can create files where a lodger was copied (a world-writable
// directory such as /tmp) or write the lodger-transfer there does not get
// it run by the user's lodger.
func TestFindTransferRefusesWhatOthersWrite(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(shared, transferProgram)
	if err := os.WriteFile(planted, []byte("#!/bin/sh\necho pwned\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := findTransfer(shared)
	if err == nil || !strings.Contains(err.Error(), "anyone can create files in "+shared) {
		t.Errorf("lodger-transfer in a world-writable directory: %v, want a refusal naming the directory", err)
	}

	private := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(private, 0o755); err != nil {
		t.Fatal(err)
	}
	writable := filepath.Join(private, transferProgram)
	if err := os.WriteFile(writable, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o757); err != nil {
		t.Fatal(err)
	}
	_, err = findTransfer(private)
	if err == nil || !strings.Contains(err.Error(), "anyone can write it") {
		t.Errorf("a world-writable lodger-transfer: %v, want a refusal", err)
	}
	if err := os.Chmod(writable, 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := findTransfer(private); err != nil || p != writable {
		t.Errorf("the owner's own: %q, %v", p, err)
	}
}
