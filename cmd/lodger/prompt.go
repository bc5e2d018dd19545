package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// confirm prints Docker's warning for a destructive command on stderr and
// reads the answer; only y or yes goes ahead.
func confirm(cmd *cobra.Command, warning string) bool {
	fmt.Fprintf(cmd.ErrOrStderr(), "WARNING! %s\nAre you sure you want to continue? [y/N] ", warning)
	answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes"
}

// printPruned is Docker's report of a prune: what went, and the space.
func printPruned(out io.Writer, title string, removed []string, bytes int64) {
	printDeleted(out, title, removed)
	printReclaimed(out, bytes)
}

// printDeleted is one section of a prune report, nothing when nothing went.
func printDeleted(out io.Writer, title string, removed []string) {
	if len(removed) > 0 {
		fmt.Fprintf(out, "Deleted %s:\n", title)
		for _, r := range removed {
			fmt.Fprintln(out, r)
		}
		fmt.Fprintln(out)
	}
}

func printReclaimed(out io.Writer, bytes int64) {
	fmt.Fprintf(out, "Total reclaimed space: %s\n", units.HumanSize(float64(bytes)))
}
