package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/internal/companion"
)

// The hand-off (issue 14, start-up). lodger, the binary every command
// starts, does not link what talks to registries and archives or builds:
// containers/image's registry client, copy and signature code (with
// ocicrypt, grpc, protobuf, sigstore, OpenPGP), buildkit's Dockerfile
// parser and the API server, about half of every command's package
// initialisation. lodger-transfer, installed beside it, is the whole
// command tree (this package built with the lodger_transfer tag); lodger
// replaces itself with it (execve: same pid, argv, stdio and signals)
// for the commands that need that code, and for run and create when the
// image must be pulled, before anything else is done. See
// docs/architecture.md, "Start-up".

// transferProgram is the file name of the second binary.
const transferProgram = "lodger-transfer"

// annotTransfer marks, in lodger, a command that lodger-transfer carries out.
const annotTransfer = "lodger.transfer"

// errNoTransfer says that lodger-transfer is not where lodger looks.
var errNoTransfer = errors.New(transferProgram + " not found")

// commandDoc is what lodger shows of a command lodger-transfer carries
// out: the names and the line in `lodger --help`. Both builds take the
// command's from here, so the two cannot drift.
type commandDoc struct {
	use, short string
}

var (
	pullDoc          = commandDoc{"pull [flags] IMAGE", "Pull an image from a registry or an archive"}
	pushDoc          = commandDoc{"push [flags] IMAGE [DESTINATION]", "Push an image to a registry"}
	saveDoc          = commandDoc{"save [flags] IMAGE [IMAGE...]", "Write images to an archive"}
	loadDoc          = commandDoc{"load [flags]", "Load images from an archive"}
	loginDoc         = commandDoc{"login [flags] REGISTRY", "Log in to a registry"}
	logoutDoc        = commandDoc{"logout [flags] [REGISTRY]", "Remove stored credentials for a registry"}
	searchDoc        = commandDoc{"search [flags] TERM", "Search registries for images"}
	buildDoc         = commandDoc{"build [flags] CONTEXT|-", "Build an image from a Dockerfile"}
	builderDoc       = commandDoc{"builder", "Manage the build cache"}
	systemServiceDoc = commandDoc{"service [flags] [URI]", "Serve the Docker Engine API on a unix socket"}
	systemDfDoc      = commandDoc{"df [flags]", "Show the disk space images, containers and volumes take"}
	systemPruneDoc   = commandDoc{"prune [flags]", "Remove stopped containers, dangling images and, with --volumes, unused volumes"}
)

// stub is the command in lodger: it takes any arguments and hands them
// all over, --help included, so that what the user sees (help, flag
// errors, completions) is lodger-transfer's.
func (d commandDoc) stub() *cobra.Command {
	return &cobra.Command{
		Use:                d.use,
		Short:              d.short,
		Annotations:        map[string]string{annotTransfer: "1"},
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return handOff()
		},
	}
}

// handsOver reports whether lodger hands the command line args over: it
// names (as is, after help, or being completed) a command lodger-transfer
// carries out.
func handsOver(root *cobra.Command, args []string) bool {
	if w := commandWord(root, args); w == "help" || w == cobra.ShellCompRequestCmd || w == cobra.ShellCompNoDescRequestCmd {
		i := 0
		for args[i] != w {
			i++
		}
		args = append(append([]string(nil), args[:i]...), args[i+1:]...)
		if w != "help" && len(args) > 0 {
			// The word being completed is not yet a command's name.
			args = args[:len(args)-1]
		}
	}
	c, _, err := root.Find(args)
	return err == nil && c.Annotations[annotTransfer] != ""
}

// transferPath finds lodger-transfer: beside the running program, or in
// ../libexec/lodger from there, as lodger-monitor. Not in PATH: another
// version's binary would read this command line with its own grammar.
func transferPath() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own executable: %w", err)
	}
	return findTransfer(filepath.Dir(self))
}

func findTransfer(dir string) (string, error) {
	libexec := filepath.Join(dir, "..", "libexec", "lodger")
	for _, p := range []string{filepath.Join(dir, transferProgram), filepath.Join(libexec, transferProgram)} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, companion.Check(p)
		}
	}
	return "", fmt.Errorf("%w in %s or %s: lodger hands it pull, push, save, load, login, logout, search, build, builder, system service, df and prune, and run or create of an image to pull; make install puts it beside lodger", errNoTransfer, dir, libexec)
}

// handOff replaces this process with lodger-transfer, given the same
// arguments and environment (the session's variables included, so it
// does not join again). It returns only when that fails.
func handOff() error {
	p, err := transferPath()
	if err != nil {
		return err
	}
	return fmt.Errorf("start %s: %w", p, syscall.Exec(p, os.Args, os.Environ()))
}
