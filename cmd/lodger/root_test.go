package main

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/spf13/cobra"
)

// TestTopCommands: each entry of topCommands names the command it builds,
// by its name and then its aliases, and names no other command.
func TestTopCommands(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range topCommands {
		cmd := c.newCmd()
		want := append([]string{cmd.Name()}, cmd.Aliases...)
		if !slices.Equal(c.names, want) {
			t.Errorf("topCommands names %q for the command called %q", c.names, want)
		}
		for _, n := range c.names {
			if seen[n] {
				t.Errorf("two entries of topCommands are called %q", n)
			}
			seen[n] = true
		}
	}
}

// TestRootForBuildsWhatTheLineNames: a command line that names a command
// gets a tree of that command alone; one that names none gets them all,
// so that help, completion and suggestions see every command.
func TestRootForBuildsWhatTheLineNames(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // the one command built; "" for the whole tree
	}{
		{[]string{"network", "create", "n1"}, "network"},
		{[]string{"--root", "/x", "run", "--rm", "img"}, "run"},
		{[]string{"--root=/x", "--storage-driver", "vfs", "image-list"}, "images"},
		{[]string{"--storage-driver=vfs", "ps", "-a"}, "ps"},
		{nil, ""},
		{[]string{"--help"}, ""},
		{[]string{"-h", "run"}, ""},
		{[]string{"help", "run"}, ""},
		{[]string{"completion", "bash"}, ""},
		{[]string{"__complete", "ru"}, ""},
		{[]string{"runn"}, ""},
		{[]string{"--bogus", "run"}, ""},
		{[]string{"--root"}, ""},
	} {
		got := newRootFor(tt.args).Commands()
		if tt.want == "" {
			if len(got) != len(topCommands) {
				t.Errorf("%q: %d commands built, want all %d", tt.args, len(got), len(topCommands))
			}
			continue
		}
		if len(got) != 1 || got[0].Name() != tt.want {
			var names []string
			for _, c := range got {
				names = append(names, c.Name())
			}
			t.Errorf("%q: built %q, want only %q", tt.args, names, tt.want)
		}
	}
}

// TestRootForHelpIsTheWholeTreesHelp: what `lodger CMD --help` prints
// (usage, flags, global flags, subcommands) is the same whether the tree
// holds that command alone or all of them.
func TestRootForHelpIsTheWholeTreesHelp(t *testing.T) {
	help := func(root *cobra.Command, args []string) string {
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		if _, err := root.ExecuteContextC(context.Background()); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return out.String()
	}
	for _, c := range topCommands {
		if c.newCmd().Annotations[annotTransfer] != "" {
			continue // lodger hands its help over: TestHandsOver
		}
		for _, name := range c.names {
			args := []string{"--root", "/x", name, "--help"}
			lazy, whole := help(newRootFor(args), args), help(newRootCommand(), args)
			if lazy != whole {
				t.Errorf("%q: the help differs from the whole tree's:\n%s\nwant:\n%s", args, lazy, whole)
			}
			if len(lazy) < 50 {
				t.Errorf("%q printed %q, not a help", args, lazy)
			}
		}
	}
}
