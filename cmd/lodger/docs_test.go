//go:build lodger_transfer

package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra/doc"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/cli from the commands")

// TestCLIDocs keeps docs/cli, the command reference generated from cobra,
// in step with the commands: `make docs` rewrites it, and this test fails
// when a flag or command changed without that.
func TestCLIDocs(t *testing.T) {
	want := filepath.Join("..", "..", "docs", "cli")
	got := t.TempDir()
	root := newRootCommand()
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, got); err != nil {
		t.Fatal(err)
	}
	if *updateDocs {
		if err := os.RemoveAll(want); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(want, os.DirFS(got)); err != nil {
			t.Fatal(err)
		}
		return
	}
	gotFiles, _ := filepath.Glob(filepath.Join(got, "*.md"))
	wantFiles, _ := filepath.Glob(filepath.Join(want, "*.md"))
	if len(gotFiles) != len(wantFiles) {
		t.Fatalf("docs/cli has %d pages, the commands make %d: run make docs", len(wantFiles), len(gotFiles))
	}
	for _, g := range gotFiles {
		name := filepath.Base(g)
		a, _ := os.ReadFile(g)
		b, err := os.ReadFile(filepath.Join(want, name))
		if err != nil || string(a) != string(b) {
			t.Errorf("docs/cli/%s is out of date: run make docs", name)
		}
	}
}
