package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/rootless/session"
	"github.com/lodger-containers/lodger/storage"
)

// Annotations on commands.
const (
	// annotExitCode is the exit code for lodger's own errors in this
	// command: 125 for run, create, start and exec, as in Docker.
	annotExitCode = "lodger.exit-code"
	// annotSession marks commands that must run in the session namespace.
	annotSession = "lodger.session"
)

// globalOptions are the flags every command takes.
type globalOptions struct {
	root   string
	driver string
}

var global globalOptions

// exitCodeError ends the process with Code and prints Err when non-nil.
type exitCodeError struct {
	Code int
	Err  error
}

func (e *exitCodeError) Unwrap() error { return e.Err }

func (e *exitCodeError) Error() string {
	if e.Err == nil {
		return "exit status " + strconv.Itoa(e.Code)
	}
	return e.Err.Error()
}

// newRootCommand is lodger's whole command tree (help, completion and
// docs/cli read it).
func newRootCommand() *cobra.Command {
	root := newBareRoot()
	for _, c := range topCommands {
		root.AddCommand(c.newCmd())
	}
	return root
}

// newRootFor is the tree a command line needs: the root with only the
// command args name, or the whole tree when they name none of
// topCommands (help, completion, a typo that cobra offers suggestions
// for, a flag before the command that the root does not take). Building
// every command (all their flags: pflag formats each string-array flag's
// default through encoding/csv and a fresh 4 KiB buffer) cost every
// command 0.9 MB of fresh heap, 290 of `lodger version`'s 1280 page
// faults: see docs/architecture.md, "Start-up".
func newRootFor(args []string) *cobra.Command {
	root := newBareRoot()
	if c := findTopCommand(commandWord(root, args)); c != nil {
		root.AddCommand(c.newCmd())
		return root
	}
	for _, c := range topCommands {
		root.AddCommand(c.newCmd())
	}
	return root
}

// commandWord is the word of args cobra finds the top command by: the
// first that is not one of the root's flags or their values; "" when
// args have none, or something the root's flags do not explain (-h,
// --help, --, an unknown flag) comes first.
func commandWord(root *cobra.Command, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return a
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		f := root.PersistentFlags().Lookup(name)
		if !strings.HasPrefix(a, "--") || f == nil {
			return ""
		}
		if !hasValue && f.NoOptDefVal == "" {
			i++ // the flag's value is the next word
		}
	}
	return ""
}

// topCommand is one of lodger's commands with the names that call it,
// known without building it.
type topCommand struct {
	names  []string // its Name(), then its Aliases
	newCmd func() *cobra.Command
}

func findTopCommand(word string) *topCommand {
	if word == "" {
		return nil
	}
	for i := range topCommands {
		if slices.Contains(topCommands[i].names, word) {
			return &topCommands[i]
		}
	}
	return nil
}

// newBareRoot is the root command and its global flags, no commands.
func newBareRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "lodger",
		Short: "Run containers without a daemon and without root",
		Long: `lodger runs OCI containers as an unprivileged user: images come from
registries or archives, containers run in a user namespace mapped from your
/etc/subuid and /etc/subgid ranges, and no daemon stays behind.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Annotations[annotSession] == "" {
				return nil
			}
			return session.Enter()
		},
	}
	root.PersistentFlags().StringVar(&global.root, "root", "", "storage graph root (default $XDG_DATA_HOME/lodger/storage)")
	root.PersistentFlags().StringVar(&global.driver, "storage-driver", "", "storage driver: overlay, fuse-overlayfs or vfs (default: automatic)")
	return root
}

// topCommands are lodger's commands (TestTopCommands checks the names
// against what each builds).
var topCommands = []topCommand{
	{[]string{"version"}, newVersionCommand},
	{[]string{"unshare"}, newUnshareCommand},
	{[]string{"system"}, newSystemCommand},
	{[]string{"info"}, newInfoCommand},
	{[]string{"pull"}, newPullCommand},
	{[]string{"images", "image-list"}, newImagesCommand},
	{[]string{"rmi"}, newRmiCommand},
	{[]string{"run"}, newRunCommand},
	{[]string{"ps"}, newPsCommand},
	{[]string{"rm"}, newRmCommand},
	{[]string{"volume"}, newVolumeCommand},
	{[]string{"network"}, newNetworkCommand},
	{[]string{"create"}, newCreateCommand},
	{[]string{"start"}, newStartCommand},
	{[]string{"exec"}, newExecCommand},
	{[]string{"attach"}, newAttachCommand},
	{[]string{"logs"}, newLogsCommand},
	{[]string{"events"}, newEventsCommand},
	{[]string{"healthcheck"}, newHealthcheckCommand},
	{[]string{"wait"}, newWaitCommand},
	{[]string{"stop"}, newStopCommand},
	{[]string{"restart"}, newRestartCommand},
	{[]string{"kill"}, newKillCommand},
	{[]string{"pause"}, newPauseCommand},
	{[]string{"unpause"}, newUnpauseCommand},
	{[]string{"update"}, newUpdateCommand},
	{[]string{"diff"}, newDiffCommand},
	{[]string{"stats"}, newStatsCommand},
	{[]string{"inspect"}, newInspectCommand},
	{[]string{"cp"}, newCpCommand},
	{[]string{"top"}, newTopCommand},
	{[]string{"rename"}, newRenameCommand},
	{[]string{"port"}, newPortCommand},
	{[]string{"container"}, newContainerCommand},
	{[]string{"tag"}, newTagCommand},
	{[]string{"untag"}, newUntagCommand},
	{[]string{"push"}, newPushCommand},
	{[]string{"save"}, newSaveCommand},
	{[]string{"load"}, newLoadCommand},
	{[]string{"login"}, newLoginCommand},
	{[]string{"logout"}, newLogoutCommand},
	{[]string{"search"}, newSearchCommand},
	{[]string{"history"}, newHistoryCommand},
	{[]string{"import"}, newImportCommand},
	{[]string{"export"}, newExportCommand},
	{[]string{"commit"}, newCommitCommand},
	{[]string{"build"}, newBuildCommand},
	{[]string{"builder"}, newBuilderCommand},
	{[]string{"image"}, newImageCommand},
}

// execute runs the command line and returns the process exit code.
func execute(ctx context.Context, args []string) int {
	root := newRootFor(args)
	if !isTransfer && handsOver(root, args) {
		err := handOff() // returns only when it failed
		fmt.Fprintf(os.Stderr, "lodger: %s\n", errorText(err))
		return 1
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	code := 1
	if c, err := strconv.Atoi(cmd.Annotations[annotExitCode]); err == nil {
		code = c
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		code = ec.Code
		if ec.Err == nil {
			return code
		}
	}
	fmt.Fprintf(os.Stderr, "lodger: %s\n", errorText(err))
	return code
}

// sessionCommand marks cmd as needing the session namespace and gives it
// the exit code for its own errors.
func sessionCommand(cmd *cobra.Command, errCode int) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[annotSession] = "1"
	cmd.Annotations[annotExitCode] = strconv.Itoa(errCode)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitCodeError{Code: errCode, Err: fmt.Errorf("%w\nSee 'lodger %s --help'.", err, c.Name())}
	})
	return cmd
}

// storeOptions are the storage options with the global flags applied.
func storeOptions() (storage.Options, error) {
	o, err := storage.DefaultOptions()
	if err != nil {
		return o, err
	}
	if global.root != "" {
		o.GraphRoot = global.root
	}
	if global.driver != "" {
		o.Driver = global.driver
	}
	return o, nil
}

// openStore opens storage with the global flags applied.
func openStore() (cstorage.Store, error) {
	o, err := storeOptions()
	if err != nil {
		return nil, err
	}
	return storage.Open(o)
}

// exactArgs and minArgs word argument errors as Docker does, naming the
// command and what it wants.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%q requires exactly %d argument(s) (%s), got %d\nSee 'lodger %s --help'.", cmd.CommandPath(), n, what, len(args), cmd.Name())
		}
		return nil
	}
}

func rangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return fmt.Errorf("%q requires %d to %d argument(s) (%s), got %d\nSee 'lodger %s --help'.", cmd.CommandPath(), lo, hi, what, len(args), cmd.Name())
		}
		return nil
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return fmt.Errorf("%q requires at least %d argument(s) (%s)\nSee 'lodger %s --help'.", cmd.CommandPath(), n, what, cmd.Name())
		}
		return nil
	}
}

// eachArg opens the store and calls fn for every argument, printing the
// argument after each success when echo is set, as Docker's rm, stop and
// kill do. It goes on after a failure and returns every error.
func eachArg(cmd *cobra.Command, args []string, echo bool, fn func(store cstorage.Store, ref string) error) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	defer store.Shutdown(false)
	var errs []error
	for _, ref := range args {
		if err := fn(store, ref); err != nil {
			errs = append(errs, err)
			continue
		}
		if echo {
			fmt.Fprintln(cmd.OutOrStdout(), ref)
		}
	}
	return errors.Join(errs...)
}
